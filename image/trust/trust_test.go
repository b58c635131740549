package trust

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func TestCanonical(t *testing.T) {
	type doc struct {
		Z    string         `json:"z"`
		A    int            `json:"a"`
		M    map[string]int `json:"m"`
		HTML string         `json:"html"`
	}
	b, err := Canonical(doc{Z: "é\n", A: -3, M: map[string]int{"b": 2, "a": 1}, HTML: "<&>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":-3,"html":"<&>","m":{"a":1,"b":2},"z":"é\n"}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if err := CheckCanonical(b); err != nil {
		t.Fatal(err)
	}
	if _, err := Canonical(map[string]float64{"x": 1.5}); err == nil {
		t.Fatal("float accepted")
	}
	for _, bad := range []string{
		`{"b":1,"a":2}`, `{"a":1,"a":1}`, `{ "a":1}`, `{"a":1}` + "\n", `{"a":1.0}`, `{"a":1e3}`, `{"a":01}`, `{"a":-0}`,
		`{"a":"\u0041"}`, `{"a":1}{}`, `[1,2`, ``,
	} {
		if err := CheckCanonical([]byte(bad)); err == nil {
			t.Errorf("CheckCanonical(%q) accepted", bad)
		}
	}
	for _, good := range []string{`{"a":0}`, `[]`, `{"a":[1,-2,"x",null,true,false,{}]}`, `18446744073709551615`} {
		if err := CheckCanonical([]byte(good)); err != nil {
			t.Errorf("CheckCanonical(%q): %v", good, err)
		}
	}
}

func TestKeyIDMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "k.pub")
	b, _ := EncodePublicKey(pub(key(9)))
	os.WriteFile(p, b, 0o644)
	out, err := exec.Command("sh", "-c", openssl+" pkey -pubin -in "+p+" -outform DER | sha256sum | cut -c1-32").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := KeyID(pub(key(9))); got != strings.TrimSpace(string(out)) {
		t.Fatalf("KeyID %s, openssl %s", got, out)
	}
	// Keys written by EncodePrivateKey load back, and openssl reads them.
	kp := filepath.Join(dir, "k.key")
	kb, _ := EncodePrivateKey(key(9))
	os.WriteFile(kp, kb, 0o600)
	if k, err := LoadPrivateKey(kp); err != nil || !k.Equal(key(9)) {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	if out, err := exec.Command(openssl, "pkey", "-in", kp, "-pubout").Output(); err != nil || !bytes.Equal(out, b) {
		t.Fatalf("openssl pkey -pubout: %v %s", err, out)
	}
	if _, err := LoadPublicKeys(kp); err == nil {
		t.Fatal("LoadPublicKeys accepted a private key")
	}
	two := append(bytes.Clone(b), mustPEM(t, pub(key(8)))...)
	os.WriteFile(p, two, 0o644)
	if ks, err := LoadPublicKeys(p); err != nil || len(ks) != 2 {
		t.Fatalf("two keys: %v %d", err, len(ks))
	}
}

func mustPEM(t *testing.T, k ed25519.PublicKey) []byte {
	b, err := EncodePublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type doc struct {
	Type string `json:"type"`
	N    int    `json:"n"`
}

func TestEnvelope(t *testing.T) {
	e, err := NewEnvelope(doc{"test", 1})
	if err != nil {
		t.Fatal(err)
	}
	e.Sign(key(2))
	e.Sign(key(1))
	e.Sign(key(2)) // replaces, does not duplicate
	if len(e.Signatures) != 2 || e.Signatures[0].KeyID > e.Signatures[1].KeyID {
		t.Fatalf("signatures: %+v", e.Signatures)
	}
	b, _ := e.Marshal()
	p, err := ParseEnvelope(append(b, '\n'))
	if err != nil || !bytes.Equal(p.Signed, e.Signed) {
		t.Fatalf("round trip: %v", err)
	}
	var d doc
	if err := p.Decode("test", &d); err != nil || d.N != 1 {
		t.Fatalf("decode: %v %+v", err, d)
	}
	if err := p.Decode("other", &d); err == nil {
		t.Fatal("wrong type decoded")
	}
	// The signed bytes are exactly what openssl pkeyutl -rawin verifies.
	if !ed25519.Verify(pub(key(1)), []byte(`{"n":1,"type":"test"}`), mustSig(t, p, KeyID(pub(key(1))))) {
		t.Fatal("signature is not over the canonical bytes")
	}
	for _, bad := range []string{
		strings.Replace(string(b), `"n":1`, `"n": 1`, 1),
		strings.Replace(string(b), `{"signatures"`, `{"extra":1,"signatures"`, 1),
		`{"signatures":[],"signed":{"n":1}}`,
		`{"signatures":[],"signed":[1]}`,
		`{"signed":{"type":"x"}}`,
	} {
		if _, err := ParseEnvelope([]byte(bad)); err == nil {
			t.Errorf("ParseEnvelope(%s) accepted", bad)
		}
	}
}

func mustSig(t *testing.T, e *Envelope, id string) []byte {
	s, why := e.signatureBy(id)
	if why != "" {
		t.Fatal(why)
	}
	return s
}

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// newRoot builds root metadata with the given root and release keys.
func newRoot(t *testing.T, version uint64, rootKeys []ed25519.PrivateKey, rootT int, relKeys []ed25519.PrivateKey, relT int) *Root {
	t.Helper()
	r := &Root{Type: TypeRoot, Version: version, Expires: FormatTime(now.AddDate(1, 0, 0)), Keys: map[string]Key{}, Roles: map[string]Role{}}
	add := func(role string, keys []ed25519.PrivateKey, th int) {
		ro := Role{Threshold: th}
		for _, k := range keys {
			id := KeyID(pub(k))
			r.Keys[id] = NewKey(pub(k), time.Time{})
			ro.KeyIDs = append(ro.KeyIDs, id)
		}
		r.Roles[role] = ro
	}
	add(RoleRoot, rootKeys, rootT)
	add(RoleRelease, relKeys, relT)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return r
}

func signed(t *testing.T, v any, keys ...ed25519.PrivateKey) *Envelope {
	t.Helper()
	e, err := NewEnvelope(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		e.Sign(k)
	}
	return e
}

func TestThresholdExpiryRevocation(t *testing.T) {
	r1, r2, r3 := key(1), key(2), key(3)
	root := newRoot(t, 1, []ed25519.PrivateKey{r1}, 1, []ed25519.PrivateKey{r1, r2, r3}, 2)
	d := doc{"test", 7}
	check := func(name string, r *Root, e *Envelope, wantSigners int, wantErr string) {
		t.Helper()
		res, err := r.VerifyRole(e, RoleRelease, now)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%s: error %v, want %q", name, err, wantErr)
		}
		if res == nil || len(res.Signers) != wantSigners {
			t.Errorf("%s: %+v", name, res)
		}
		var te *ThresholdError
		if wantErr != "" && strings.Contains(wantErr, "needed") && !errors.As(err, &te) {
			t.Errorf("%s: not a ThresholdError: %T", name, err)
		}
	}
	check("2 of 3", root, signed(t, d, r1, r2), 2, "")
	check("3 of 3", root, signed(t, d, r1, r2, r3), 3, "")
	check("1 of 3", root, signed(t, d, r2), 1, "release role of root v1: 2 valid signature(s) needed, 1 found")
	check("stranger", root, signed(t, d, r2, key(9)), 1, "unknown key")
	// A signature over other bytes does not count.
	e := signed(t, d, r1, r2)
	e.Signed = []byte(`{"n":8,"type":"test"}`)
	check("tampered", root, e, 0, "signature does not match the document")
	// One bad signature by a key of the role refuses the document even
	// when enough others are good: the bytes were changed.
	e = signed(t, d, r1, r2, r3)
	e.Signatures[1].Sig = e.Signatures[0].Sig
	check("one bad of three", root, e, 2, "does not match: the document was changed")
	e.Signatures[1].Sig = "AAAA"
	check("malformed", root, e, 2, "not 64 bytes of base64")
	// Expired key.
	k := root.Keys[KeyID(pub(r2))]
	k.Expires = FormatTime(now.Add(-time.Hour))
	root.Keys[KeyID(pub(r2))] = k
	check("expired", root, signed(t, d, r1, r2), 1, "key expired on 2026-05-31T23:00:00Z")
	check("expired but enough", root, signed(t, d, r1, r2, r3), 2, "")
	// Revoked key.
	root.Revoked = []string{KeyID(pub(r3))}
	check("revoked", root, signed(t, d, r1, r3), 1, "revoked by root v1")
	// The root's own expiry.
	if err := root.Expired(now); err != nil {
		t.Fatal(err)
	}
	if err := root.Expired(now.AddDate(2, 0, 0)); err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Fatalf("expired root: %v", err)
	}
}

func TestRootCheck(t *testing.T) {
	good := func() *Root { return newRoot(t, 1, []ed25519.PrivateKey{key(1)}, 1, []ed25519.PrivateKey{key(2)}, 1) }
	for name, mutate := range map[string]func(r *Root){
		"threshold too high": func(r *Root) { r.Roles[RoleRelease] = Role{KeyIDs: r.Roles[RoleRelease].KeyIDs, Threshold: 2} },
		"threshold zero":     func(r *Root) { r.Roles[RoleRelease] = Role{KeyIDs: r.Roles[RoleRelease].KeyIDs} },
		"unknown key":        func(r *Root) { r.Roles[RoleRelease] = Role{KeyIDs: []string{"00"}, Threshold: 1} },
		"no root role":       func(r *Root) { delete(r.Roles, RoleRoot) },
		"unknown role":       func(r *Root) { r.Roles["timestamp"] = r.Roles[RoleRoot] },
		"wrong key id": func(r *Root) {
			id := KeyID(pub(key(2)))
			k := r.Keys[id]
			k.Public = strings.Repeat("00", 32)
			r.Keys[id] = k
		},
		"bad expiry":  func(r *Root) { r.Expires = "tomorrow" },
		"bad revoked": func(r *Root) { r.Revoked = []string{"XYZ"} },
		"type":        func(r *Root) { r.Type = "root" },
	} {
		r := good()
		mutate(r)
		if err := r.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRotationChain(t *testing.T) {
	a, b, c, d := key(1), key(2), key(3), key(4)
	rel := []ed25519.PrivateKey{key(10)}
	v1 := newRoot(t, 1, []ed25519.PrivateKey{a, b, c}, 2, rel, 1)
	v2 := newRoot(t, 2, []ed25519.PrivateKey{b, c, d}, 2, rel, 1) // a rotated out, d in
	v3 := newRoot(t, 3, []ed25519.PrivateKey{c, d}, 2, []ed25519.PrivateKey{key(11)}, 1)
	e2 := signed(t, v2, a, b, c) // 2 of v1 (a, b) and 2 of its own (b, c)
	e3 := signed(t, v3, c, d)
	got, env, err := Update(v1, []*Envelope{e3, e2}, now)
	if err != nil || got.Version != 3 || env != e3 {
		t.Fatalf("chain: %v %v", got, err)
	}
	// From v2 the chain skips v2 itself.
	if got, _, err := Update(v2, []*Envelope{e2, e3}, now); err != nil || got.Version != 3 {
		t.Fatalf("from v2: %v", err)
	}
	// No chain: the trusted root itself, no envelope.
	if got, env, err := Update(v1, nil, now); err != nil || got != v1 || env != nil {
		t.Fatalf("empty chain: %v", err)
	}
	for name, c := range map[string]struct {
		chain []*Envelope
		want  string
	}{
		"gap":                        {[]*Envelope{e3}, "gap"},
		"not signed by previous":     {[]*Envelope{signed(t, v2, b, d)}, "not signed by the previous root"},
		"not signed by its own keys": {[]*Envelope{signed(t, v2, a, b)}, "not signed by its own root keys"},
		"two v2":                     {[]*Envelope{e2, signed(t, newRoot(t, 2, []ed25519.PrivateKey{a}, 1, rel, 1), a, b)}, "two different roots"},
	} {
		if _, _, err := Update(v1, c.chain, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// Every root given must hold together, even those older than the
	// trusted one.
	e1 := signed(t, v1, a, b)
	if _, _, err := Update(v2, []*Envelope{e1, e2, e3}, now); err != nil {
		t.Fatalf("whole chain from v2: %v", err)
	}
	e1bad := signed(t, v1, a)
	if _, _, err := Update(v2, []*Envelope{e1bad, e2, e3}, now); err == nil || !strings.Contains(err.Error(), "root v1 is not signed by its own root keys") {
		t.Fatalf("under-signed old root: %v", err)
	}
	other := newRoot(t, 1, []ed25519.PrivateKey{a, b, c}, 2, []ed25519.PrivateKey{key(12)}, 1)
	if _, _, err := Update(v1, []*Envelope{signed(t, other, a, b), e2}, now); err == nil || !strings.Contains(err.Error(), "differs from the trusted root") {
		t.Fatalf("forked v1: %v", err)
	}
	// An expired newest root is refused; an expired intermediate is not.
	v2.Expires = FormatTime(now.Add(-time.Hour))
	e2x := signed(t, v2, a, b, c)
	if _, _, err := Update(v1, []*Envelope{e2x}, now); err == nil || !strings.Contains(err.Error(), "root metadata v2 expired") {
		t.Fatalf("expired newest: %v", err)
	}
	if got, _, err := Update(v1, []*Envelope{e2x, e3}, now); err != nil || got.Version != 3 {
		t.Fatalf("expired intermediate: %v", err)
	}
	// A key ring does not rotate.
	kr, _ := KeyRing([]ed25519.PublicKey{pub(a)}, 1)
	if got, _, err := Update(kr, []*Envelope{e2}, now); err != nil || got != kr {
		t.Fatalf("key ring: %v", err)
	}
}

func TestLoadTrust(t *testing.T) {
	dir := t.TempDir()
	v1 := newRoot(t, 1, []ed25519.PrivateKey{key(1), key(2)}, 2, []ed25519.PrivateKey{key(3)}, 1)
	p := filepath.Join(dir, "root.json")
	signed(t, v1, key(1), key(2)).WriteFile(p)
	if r, env, err := LoadTrust(p, 0, now); err != nil || r.Version != 1 || env == nil {
		t.Fatalf("root: %v", err)
	}
	signed(t, v1, key(1)).WriteFile(p)
	if _, _, err := LoadTrust(p, 0, now); err == nil {
		t.Fatal("root signed by 1 of 2 root keys loaded")
	}
	kp := filepath.Join(dir, "keys.pem")
	os.WriteFile(kp, append(mustPEM(t, pub(key(1))), mustPEM(t, pub(key(2)))...), 0o644)
	r, env, err := LoadTrust(kp, 2, now)
	if err != nil || env != nil || r.Version != 0 || r.Roles[RoleRelease].Threshold != 2 {
		t.Fatalf("keys: %v %+v", err, r)
	}
	if _, _, err := LoadTrust(kp, 3, now); err == nil {
		t.Fatal("threshold 3 of 2 keys accepted")
	}
}
