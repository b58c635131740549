// Package policy is Rampart's compartment policy: the HCL language, its
// typed model, the loader and its diagnostics, and the access decision
// function.
//
// One policy drives enforcement (SELinux CIL, systemd hardening, the
// Landlock/seccomp launcher), validation (package analysis), detection (the
// audit agent) and forensics. It declares
//
//   - compartments (subjects): executables, identity, trust tier,
//     capabilities, syscall groups, resource limits, and allow rules;
//   - operator roles: subjects for people, with allow rules and the
//     compartments they may enter;
//   - resources (objects): path globs with a kind, labels and an owner;
//   - channels: unix sockets, served TCP/UDP ports and outbound
//     destinations, with their server and clients;
//   - spawns: which compartment may start which (domain transitions);
//   - invariants in four forms: deny_access, no_flow, deny_spawn and
//     deny_capability.
//
// Load and Parse return a *Policy or an *Error listing every problem with
// its file:line:column and a hint. Access is granted in a small set of
// verbs (Verb); each verb maps to SELinux classes and permissions per
// object kind (Verb.SELinuxPerms), a table shared by the CIL compiler and
// the audit agent. Policy.Allows, AllowsPort and AllowsProcess answer
// access queries through indexes built at load time.
//
// The language reference is docs/policy.md.
package policy
