// Package selinux compiles a Rampart policy to a complete, standalone
// SELinux policy in CIL and builds it with secilc.
//
// Compile produces the CIL: a bootable skeleton (the kernel's classes and
// permissions, initial SIDs in the kernel's order, MLS with one level,
// users and roles, an unconfined domain for everything outside the
// compartments, filesystem labeling), then a domain and an executable
// type per compartment, a type per resource, socket and port types per
// channel, file contexts, allow rules from the shared verb table
// (policy.Verb.SELinuxPerms), domain transitions for spawn blocks and
// role enter lists, and a neverallow for every invariant part SELinux can
// express. Build runs secilc on it and maps a failed neverallow check
// back to the invariant and the policy rules behind it.
//
// The design, the names and the limits are described in docs/policy.md,
// "SELinux backend".
package selinux
