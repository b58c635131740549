// Package ledger is Rampart's tamper-evident, append-only log: the node's
// record of what happened, kept so that a rewrite, deletion, reordering or
// truncation is detected by anyone who kept an earlier checkpoint, and so
// that a single entry can be proven without handing over the log.
//
// Entries are bytes (the agent stores canonical JSON), each stamped with
// its sequence number and time, in a directory on local disk. An RFC 6962
// Merkle tree over them is kept as golang.org/x/mod/sumdb/tlog stored
// hashes beside the entries, so proofs read O(log n) hashes and recompute
// nothing. Checkpoints are C2SP tlog-checkpoint notes signed with Ed25519
// through golang.org/x/mod/sumdb/note; inclusion proofs are C2SP
// tlog-proof files, and consistency proofs the body of a C2SP tlog-witness
// add-checkpoint request.
//
// A writer ([Create], [Open] with a signer) appends in batches with one
// fsync per batch, signs checkpoints after N entries, at an interval or on
// demand, and recovers from a crash on Open by cutting the incomplete tail
// after the latest checkpoint and rebuilding what follows it. [Verify]
// recomputes everything, checks every checkpoint — including ones kept off
// the node — and names the first entry that differs and how.
//
// The on-disk format and the threat model are in docs/ledger.md.
package ledger
