// Package rules holds the detection rules shipped with the agent, as CEL
// files (see package agent/detect for the language):
//
//   - shell_from_network_facing: a shell started by a network-facing
//     compartment;
//   - write_to_executable: a program file written outside a policy grant;
//   - ptrace_other_compartment: ptrace of another compartment's process;
//   - kernel_module_load: init_module or finit_module;
//   - key_read_by_non_owner: key material (label secret) read by anything
//     but its owner.
package rules

import "embed"

// FS holds the shipped rules, *.cel at its root.
//
//go:embed *.cel
var FS embed.FS
