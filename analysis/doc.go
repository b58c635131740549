// Package analysis answers questions about a compartment policy (package
// policy): it evaluates invariants with counterexamples, finds who can
// access what, finds information-flow paths, computes the blast radius of
// a compromised compartment or role, and compares two policies for code
// review.
//
// New builds two graphs once. The information-flow graph has a node per
// compartment, role and resource and two per channel (requests and
// replies); its edges say that information can move in one step: a read
// moves it from the object to the subject, a write from the subject to the
// object, a channel from clients to the server and back, a spawn from the
// parent to the child. Roles are people: a flow may start or end at a
// role but never passes through one. Shortest paths count hops, as
// SETools' seinfoflow does. The takeover graph says which compartments
// an attacker controls after compromising one: spawn, enter, ptrace, and
// altering a resource another compartment runs as code or reads as
// integrity-critical configuration.
//
// The semantics, and how they compare with SETools, are documented in
// docs/policy.md ("Information flow semantics", "Blast radius").
package analysis
