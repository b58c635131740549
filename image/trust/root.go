package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// TypeRoot is the "type" of root metadata.
const TypeRoot = "rampart-root"

// Role names. The root role signs root metadata (including its own
// successors); the release role signs image manifests.
const (
	RoleRoot    = "root"
	RoleRelease = "release"
)

// Key is a public key listed in root metadata.
type Key struct {
	// Type is always "ed25519".
	Type string `json:"type"`
	// Public is the 32-byte Ed25519 public key in hex.
	Public string `json:"public"`
	// Expires, if set, is an RFC 3339 time after which signatures by the
	// key no longer count.
	Expires string `json:"expires,omitempty"`
}

// Role is the set of keys trusted for one role and how many of them must
// sign (M of N).
type Role struct {
	KeyIDs    []string `json:"keyids"`
	Threshold int      `json:"threshold"`
}

// Root is the root of trust: the keys, which of them hold each role, the
// thresholds, and when the metadata expires. Root metadata is signed by a
// threshold of its own root keys; version N+1 must also be signed by a
// threshold of version N's root keys, which makes a rotation chain (see
// Update).
type Root struct {
	Type string `json:"type"`
	// Version counts up by one at each rotation; 0 is a key ring made
	// from plain public keys (see KeyRing), which cannot rotate.
	Version uint64 `json:"version"`
	// Expires is an RFC 3339 time; the newest root a verifier holds must
	// not have expired. Empty only in a key ring.
	Expires string `json:"expires,omitempty"`
	// Keys maps key IDs (see KeyID) to keys.
	Keys map[string]Key `json:"keys"`
	// Roles maps RoleRoot and RoleRelease to their keys and thresholds.
	Roles map[string]Role `json:"roles"`
	// Revoked lists key IDs whose signatures never count, whatever role
	// lists them.
	Revoked []string `json:"revoked,omitempty"`
}

// KeyRing returns a version-0 root whose release role is the given keys
// with the given threshold (at least 1): the trust of a verifier given
// plain public keys rather than root metadata.
func KeyRing(keys []ed25519.PublicKey, threshold int) (*Root, error) {
	r := &Root{Type: TypeRoot, Keys: map[string]Key{}, Roles: map[string]Role{}}
	var ids []string
	for _, k := range keys {
		id := KeyID(k)
		if _, dup := r.Keys[id]; dup {
			continue
		}
		r.Keys[id] = Key{Type: "ed25519", Public: hex.EncodeToString(k)}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if threshold < 1 {
		threshold = 1
	}
	r.Roles[RoleRelease] = Role{KeyIDs: ids, Threshold: threshold}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// NewKey returns the Key entry of pub with an optional expiry.
func NewKey(pub ed25519.PublicKey, expires time.Time) Key {
	k := Key{Type: "ed25519", Public: hex.EncodeToString(pub)}
	if !expires.IsZero() {
		k.Expires = FormatTime(expires)
	}
	return k
}

// FormatTime formats t as the RFC 3339 UTC time, to the second, that
// root metadata holds.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func parseTime(what, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%s %q is not an RFC 3339 time", what, s)
	}
	return t, nil
}

// Check reports the first inconsistency of r: unknown type, a malformed
// key or a key ID that does not match its key, a role naming unknown
// keys, or a threshold that cannot be met.
func (r *Root) Check() error {
	if r.Type != TypeRoot {
		return fmt.Errorf("root metadata has type %q, expected %q", r.Type, TypeRoot)
	}
	if r.Version > 0 || r.Expires != "" {
		if _, err := parseTime("root expiry", r.Expires); err != nil {
			return err
		}
	}
	for id, k := range r.Keys {
		if k.Type != "ed25519" {
			return fmt.Errorf("key %s has type %q, only ed25519 is supported", id, k.Type)
		}
		pub, err := hex.DecodeString(k.Public)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("key %s: public key is not 32 bytes of hex", id)
		}
		if got := KeyID(pub); got != id {
			return fmt.Errorf("key listed as %s has ID %s", id, got)
		}
		if k.Expires != "" {
			if _, err := parseTime("expiry of key "+id, k.Expires); err != nil {
				return err
			}
		}
	}
	need := []string{RoleRelease}
	if r.Version > 0 {
		need = append(need, RoleRoot)
	}
	for _, name := range need {
		if _, ok := r.Roles[name]; !ok {
			return fmt.Errorf("root v%d has no %q role", r.Version, name)
		}
	}
	for name, role := range r.Roles {
		if name != RoleRoot && name != RoleRelease {
			return fmt.Errorf("unknown role %q", name)
		}
		seen := map[string]bool{}
		for _, id := range role.KeyIDs {
			if _, ok := r.Keys[id]; !ok {
				return fmt.Errorf("role %s names key %s, which the root does not list", name, id)
			}
			if seen[id] {
				return fmt.Errorf("role %s names key %s twice", name, id)
			}
			seen[id] = true
		}
		if role.Threshold < 1 || role.Threshold > len(role.KeyIDs) {
			return fmt.Errorf("role %s: threshold %d with %d keys cannot be met (want 1 to %d)", name, role.Threshold, len(role.KeyIDs), len(role.KeyIDs))
		}
	}
	for _, id := range r.Revoked {
		if len(id) != 2*KeyIDBytes || strings.Trim(id, "0123456789abcdef") != "" {
			return fmt.Errorf("revoked key ID %q is not %d lower-case hex digits", id, 2*KeyIDBytes)
		}
	}
	return nil
}

// Expired reports, as an error naming the date, whether r has expired at
// now. A key ring never expires.
func (r *Root) Expired(now time.Time) error {
	if r.Expires == "" {
		return nil
	}
	t, err := parseTime("root expiry", r.Expires)
	if err != nil {
		return err
	}
	if now.After(t) {
		return &ExpiredError{What: fmt.Sprintf("root metadata v%d", r.Version), Expired: t}
	}
	return nil
}

// ExpiredError says that metadata expired.
type ExpiredError struct {
	What    string
	Expired time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s expired on %s", e.What, FormatTime(e.Expired))
}

// Rejected is a signature that did not count, and why.
type Rejected struct {
	KeyID  string `json:"keyid"`
	Reason string `json:"reason"`
}

// Result says which signatures counted for a role.
type Result struct {
	Role        string     `json:"role"`
	RootVersion uint64     `json:"root_version"`
	Threshold   int        `json:"threshold"`
	Signers     []string   `json:"signers"`
	Rejected    []Rejected `json:"rejected,omitempty"`
}

// who names the role: "release role of root v3", or "release keys given"
// for a key ring.
func (res *Result) who() string {
	if res.RootVersion == 0 {
		return res.Role + " keys given"
	}
	return fmt.Sprintf("%s role of root v%d", res.Role, res.RootVersion)
}

func (res *Result) summary() string {
	var why []string
	s := fmt.Sprintf("%s: %d valid signature(s) needed, %d found", res.who(), res.Threshold, len(res.Signers))
	for _, r := range res.Rejected {
		why = append(why, fmt.Sprintf("key %s: %s", r.KeyID, r.Reason))
		if r.Reason == reasonMismatch || r.Reason == reasonMalformed {
			s = fmt.Sprintf("%s: a signature by one of its keys does not match: the document was changed", res.who())
		}
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, "; ") + ")"
	}
	return s
}

// ThresholdError says that too few valid signatures were found; Result
// gives every signature that did not count and why.
type ThresholdError struct{ Result *Result }

func (e *ThresholdError) Error() string { return e.Result.summary() }

func (r *Root) revoked(id string) bool {
	for _, x := range r.Revoked {
		if x == id {
			return true
		}
	}
	return false
}

// Reasons a signature did not count that make a document refused even
// when enough other signatures count: a key of the role signed, but the
// signature is not over these bytes, which means they were changed.
const (
	reasonMismatch  = "signature does not match the document"
	reasonMalformed = "signature is not 64 bytes of base64"
)

// VerifyRole checks the signatures of env against role: it counts each
// valid signature by a key of the role that is neither revoked nor expired
// at now, and fails with a *ThresholdError when fewer than the threshold
// count, or when a key of the role has a signature that does not match
// (the document was changed). Signatures by keys the role does not list
// are ignored, so that a document can be signed by the keys of two
// roots during a rotation. The Result lists every signature that did not
// count and why.
func (r *Root) VerifyRole(env *Envelope, role string, now time.Time) (*Result, error) {
	ro, ok := r.Roles[role]
	if !ok {
		return nil, fmt.Errorf("root v%d has no %q role", r.Version, role)
	}
	res := &Result{Role: role, RootVersion: r.Version, Threshold: ro.Threshold, Signers: []string{}}
	inRole := map[string]bool{}
	for _, id := range ro.KeyIDs {
		inRole[id] = true
	}
	bad := false
	for _, s := range env.Signatures {
		reason := ""
		k, listed := r.Keys[s.KeyID]
		switch {
		case !inRole[s.KeyID] && listed:
			reason = fmt.Sprintf("not a %s key of root v%d", role, r.Version)
		case !inRole[s.KeyID]:
			reason = fmt.Sprintf("unknown key (not in root v%d)", r.Version)
		case r.revoked(s.KeyID):
			reason = fmt.Sprintf("revoked by root v%d", r.Version)
		}
		if reason == "" && k.Expires != "" {
			if t, err := parseTime("key expiry", k.Expires); err != nil || now.After(t) {
				reason = "key expired on " + k.Expires
			}
		}
		if reason == "" {
			sig, why := env.signatureBy(s.KeyID)
			pub, _ := hex.DecodeString(k.Public)
			switch {
			case why != "":
				reason = why
			case !ed25519.Verify(pub, env.Signed, sig):
				reason = reasonMismatch
			}
		}
		if reason != "" {
			res.Rejected = append(res.Rejected, Rejected{KeyID: s.KeyID, Reason: reason})
			if reason == reasonMismatch || reason == reasonMalformed {
				bad = true
			}
			continue
		}
		res.Signers = append(res.Signers, s.KeyID)
	}
	if bad || len(res.Signers) < ro.Threshold {
		return res, &ThresholdError{Result: res}
	}
	return res, nil
}

// ParseRoot decodes root metadata from an envelope and checks its
// consistency (not its signatures).
func ParseRoot(env *Envelope) (*Root, error) {
	var r Root
	if err := env.Decode(TypeRoot, &r); err != nil {
		return nil, err
	}
	if r.Version == 0 {
		return nil, errors.New("signed root metadata must have version 1 or more")
	}
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("root v%d: %w", r.Version, err)
	}
	return &r, nil
}

// LoadRoot reads signed root metadata from path and checks that a
// threshold of its own root keys signed it (as every root must be). It
// does not check expiry: a verifier checks that of the newest root it
// reaches (see Update).
func LoadRoot(path string, now time.Time) (*Root, *Envelope, error) {
	env, err := ReadEnvelope(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := ParseRoot(env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := r.VerifyRole(env, RoleRoot, now); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, env, nil
}

// LoadTrust reads a verifier's trust anchor: signed root metadata (a JSON
// file, see LoadRoot) or a PEM file of Ed25519 public keys, which becomes
// a key ring whose release role needs threshold of them (see KeyRing).
// The envelope is nil for a key ring.
func LoadTrust(path string, threshold int, now time.Time) (*Root, *Envelope, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		if threshold > 1 {
			return nil, nil, fmt.Errorf("%s: root metadata sets its own thresholds; a threshold is only for plain keys", path)
		}
		return LoadRoot(path, now)
	}
	keys, err := LoadPublicKeys(path)
	if err != nil {
		return nil, nil, err
	}
	if threshold > len(keys) {
		return nil, nil, fmt.Errorf("%s: threshold %d but only %d key(s)", path, threshold, len(keys))
	}
	r, err := KeyRing(keys, threshold)
	return r, nil, err
}

// Update follows a rotation chain from trusted: among chain, the root of
// version trusted.Version+1 must be signed by a threshold of trusted's
// root keys and by a threshold of its own, and so on up to the newest.
// Every root given must hold together, old ones included: each signed by
// a threshold of its own root keys, each signed by the threshold of the
// given root one version below it, and one of trusted's version equal to
// it, so that no byte of a chain goes unchecked. A gap in versions above
// trusted, or two different roots of one version, is refused. The newest
// root reached must not have expired at now. Update returns it and its
// envelope (nil when no newer root was given). A key ring (version 0)
// cannot rotate: the chain means nothing to it and is ignored.
func Update(trusted *Root, chain []*Envelope, now time.Time) (*Root, *Envelope, error) {
	if trusted.Version == 0 {
		return trusted, nil, nil
	}
	byVersion := map[uint64]*Envelope{}
	roots := map[uint64]*Root{}
	var versions []uint64
	for _, env := range chain {
		r, err := ParseRoot(env)
		if err != nil {
			return nil, nil, err
		}
		if prev, dup := byVersion[r.Version]; dup {
			if !bytes.Equal(prev.Signed, env.Signed) {
				return nil, nil, fmt.Errorf("two different roots claim version %d", r.Version)
			}
			continue
		}
		if _, err := r.VerifyRole(env, RoleRoot, now); err != nil {
			return nil, nil, fmt.Errorf("root v%d is not signed by its own root keys: %w", r.Version, err)
		}
		if r.Version == trusted.Version {
			if c, err := Canonical(trusted); err != nil || !bytes.Equal(c, env.Signed) {
				return nil, nil, fmt.Errorf("root v%d given differs from the trusted root v%d", r.Version, trusted.Version)
			}
		}
		byVersion[r.Version], roots[r.Version] = env, r
		versions = append(versions, r.Version)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	roots[trusted.Version] = trusted
	cur := trusted
	var curEnv *Envelope
	for _, v := range versions {
		prev, ok := roots[v-1]
		if !ok {
			if v > trusted.Version {
				return nil, nil, fmt.Errorf("root chain has a gap: trusted v%d, next given is v%d", cur.Version, v)
			}
			continue
		}
		if _, err := prev.VerifyRole(byVersion[v], RoleRoot, now); err != nil {
			return nil, nil, fmt.Errorf("root v%d is not signed by the previous root: %w", v, err)
		}
		if v > trusted.Version {
			cur, curEnv = roots[v], byVersion[v]
		}
	}
	if err := cur.Expired(now); err != nil {
		return nil, nil, err
	}
	return cur, curEnv, nil
}
