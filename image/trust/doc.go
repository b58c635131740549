// Package trust holds Rampart's signed metadata and its root of trust, a
// small subset of The Update Framework (TUF) built on Ed25519 and the
// standard library.
//
// Every signed document is an Envelope: the document's canonical JSON
// (sorted keys, no white space, integers only; see Canonical) and detached
// Ed25519 signatures over exactly those bytes, each naming its key by a
// KeyID (a truncated SHA-256 of the key's PKIX encoding).
//
// Root metadata (Root) lists the keys and two roles: "root", which signs
// root metadata, and "release", which signs image manifests. Each role
// needs a threshold of valid signatures (M of N). A key may carry an
// expiry and may be revoked; signatures by expired or revoked keys do not
// count. Root version N+1 must be signed by a threshold of version N's
// root keys and by a threshold of its own, so a node that trusts version
// N can follow a rotation chain (Update) to the newest root, which must
// not have expired.
//
// Unlike TUF, there is no timestamp or snapshot role and no repository:
// the chain and the signed manifest travel inside an upgrade bundle, and
// freshness of releases is enforced by the manifest's rollback index
// instead (see the slot package).
package trust
