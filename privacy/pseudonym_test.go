package privacy

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var pseudonymRE = regexp.MustCompile(`^ps:[a-z0-9-]{1,16}:(uid|gid|user|group|host|principal|id):[a-z2-7]{26}$`)

// TestPseudonymConstruction recomputes a pseudonym from the documented
// construction with the standard library only: HKDF-SHA256(secret, no
// salt, info) → K; HMAC-SHA256(K, kind ‖ 0x00 ‖ value)[:16] in lowercase
// unpadded base32.
func TestPseudonymConstruction(t *testing.T) {
	kr := testKeyring(t, "k1")
	secret := sha256.Sum256([]byte("rampart privacy test key k1"))
	k, err := hkdf.Key(sha256.New, secret[:], nil, "rampart privacy v1 pseudonym hmac-sha256", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte("user\x00alice"))
	want := "ps:k1:user:" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:16]))
	if got := kr.Pseudonym(KindUser, "alice"); got != want {
		t.Fatalf("Pseudonym = %s, want %s", got, want)
	}
	if !pseudonymRE.MatchString(want) {
		t.Errorf("%s does not match the documented format", want)
	}
}

func TestPseudonymDeterminismAndSeparation(t *testing.T) {
	kr := testKeyring(t)
	a := kr.Pseudonym(KindUID, "1000")
	if a != kr.Pseudonym(KindUID, "1000") {
		t.Error("not deterministic")
	}
	again := testKeyring(t) // same secret, new keyring
	if a != again.Pseudonym(KindUID, "1000") {
		t.Error("not deterministic across keyrings with the same key")
	}
	distinct := map[string]bool{a: true}
	for _, p := range []string{
		kr.Pseudonym(KindUser, "1000"), // kind separates
		kr.Pseudonym(KindUID, "1001"),
		kr.Pseudonym(KindUID, "1000 "),
		kr.Pseudonym(KindUID, ""),
		testKeyring(t, "k2").Pseudonym(KindUID, "1000"),
	} {
		if distinct[p] {
			t.Errorf("collision: %s", p)
		}
		distinct[p] = true
	}
	// kind ‖ 0x00 ‖ value is unambiguous: "us" + "er\x00x" vs "user" + "x".
	if kr.current.mac("us", "er\x00x") == kr.current.mac(KindUser, "x") {
		t.Error("kind/value boundary is ambiguous")
	}
	if kr.Pseudonym("person", "x") != kr.Pseudonym(KindID, "x") {
		t.Error("an invalid kind is not treated as id")
	}
	p, err := ParsePseudonym(a)
	if err != nil || p.KeyID != "k1" || p.Kind != KindUID || p.String() != a {
		t.Errorf("ParsePseudonym(%s) = %+v, %v", a, p, err)
	}
	for _, bad := range []string{"", "ps:", "ps:k1:uid:", "ps:K1:uid:" + a[len(a)-26:], "ps:k1:person:" + a[len(a)-26:],
		"ps:k1:uid:" + strings.ToUpper(a[len(a)-26:]), a + "a", "pan:k1:1.2.3.4", "ps:k1:uid:" + strings.Repeat("a", 25) + "b"} {
		if _, err := ParsePseudonym(bad); err == nil {
			t.Errorf("ParsePseudonym(%q) accepted", bad)
		}
	}
}

func TestKeyRotationAndReveal(t *testing.T) {
	kr1 := testKeyring(t, "k1")
	old := kr1.Pseudonym(KindUser, "alice")
	kr2, err := kr1.Rotate("k2", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if kr2.Current() != "k2" || kr1.Current() != "k1" {
		t.Fatalf("current: %s, %s (Rotate must not modify the old keyring)", kr1.Current(), kr2.Current())
	}
	cur := kr2.Pseudonym(KindUser, "alice")
	if !strings.HasPrefix(cur, "ps:k2:user:") || cur == old {
		t.Fatalf("after rotation: %s (before %s)", cur, old)
	}
	cands := []string{"bob", "root", "alice", "carol"}
	for _, p := range []string{old, cur} {
		if v, err := kr2.Reveal(p, cands); err != nil || v != "alice" {
			t.Errorf("kr2.Reveal(%s) = %q, %v", p, v, err)
		}
	}
	if _, err := kr2.Reveal(old, []string{"bob", "Alice"}); !errors.Is(err, ErrNotRevealed) {
		t.Errorf("reveal without the right candidate: %v", err)
	}
	// New pseudonyms need the new key.
	if _, err := kr1.Reveal(cur, cands); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old keyring revealed a new pseudonym: %v", err)
	}
	// Deleting the old key shreds the old pseudonyms.
	kr3, err := kr2.Without("k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr3.Reveal(old, cands); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revealed after the key was deleted: %v", err)
	}
	if v, err := kr3.Reveal(cur, cands); err != nil || v != "alice" || kr3.Current() != "k2" {
		t.Errorf("kr3: %q %v current %s", v, err, kr3.Current())
	}
	if _, err := kr3.Without("k2"); err == nil {
		t.Error("removed the current key")
	}
	if _, err := kr2.Rotate("k1", rand.Reader); err == nil {
		t.Error("rotated to an existing id")
	}
	if p, err := kr2.PseudonymWith("k1", KindUser, "alice"); err != nil || p != old {
		t.Errorf("PseudonymWith(k1) = %s, %v; want %s", p, err, old)
	}
}

func TestKeyringFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "privacy.keyring")
	kr, err := testKeyring(t, "a", "b").Rotate("c", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ = kr.Without("b")
	if err := kr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", st.Mode().Perm())
	}
	back, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Current() != "c" || strings.Join(back.IDs(), ",") != "a,c" {
		t.Errorf("loaded current %s ids %v", back.Current(), back.IDs())
	}
	for _, id := range []string{"a", "c"} {
		p1, _ := kr.PseudonymWith(id, KindHost, "h")
		p2, _ := back.PseudonymWith(id, KindHost, "h")
		if p1 != p2 {
			t.Errorf("key %s differs after a round trip", id)
		}
	}
	os.Chmod(path, 0o640)
	if _, err := LoadKeyring(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable keyring loaded: %v", err)
	}
	// Current need not be the last line.
	text := strings.Replace(string(kr.Encode()), "current c", "current a", 1)
	if k, err := ParseKeyring([]byte(text)); err != nil || k.Current() != "a" {
		t.Errorf("current a: %v %v", k, err)
	}
	for _, bad := range []string{"", "rampart-privacy-keyring 2\n", "rampart-privacy-keyring 1\nkey a - AAAA\ncurrent a\n",
		"rampart-privacy-keyring 1\ncurrent x\n" + strings.SplitN(string(kr.Encode()), "\n", 4)[3],
		"rampart-privacy-keyring 1\nkey a - " + strings.Repeat("A", 44) + "\n"} {
		if _, err := ParseKeyring([]byte(bad)); err == nil {
			t.Errorf("ParseKeyring accepted %q", bad)
		}
	}
}

func TestKeySecretNotPrinted(t *testing.T) {
	kr := testKeyring(t, "k1")
	enc := string(kr.Encode())
	secret := strings.Fields(enc[strings.Index(enc, "key k1"):])[3]
	k := testKey(t, "k1")
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint(kr), fmt.Sprintf("%+v", kr)} {
		if strings.Contains(s, secret) || strings.Contains(s, secret[:10]) {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestEscrowReveal(t *testing.T) {
	kr := testKeyring(t, "k1")
	var buf bytes.Buffer
	esc := NewEscrowWriter(&buf, kr)
	f := mustFilter(t, DefaultConfig(), kr, WithEscrow(esc))
	raw := []string{"pool-96-241-146-97.washdc.fios.verizon.net", "andrew_kroh", "c3p0@EXAMPLE.ORG"}
	in := ev("USER_LOGIN", "hostname", raw[0], "acct", raw[1], "fp", raw[2])
	out, _ := f.Apply(in)
	f.Apply(in) // the second time nothing new is escrowed
	if err := esc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Errorf("%d escrow entries, want 3:\n%s", n, buf.String())
	}
	for _, v := range raw {
		if strings.Contains(buf.String(), v) {
			t.Errorf("escrow holds %q in clear", v)
		}
	}
	r := NewRevealer(kr)
	if err := r.LoadEscrow(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"hostname", "acct", "fp"} {
		p, _ := out.Get(name)
		if v, err := r.Reveal(p); err != nil || v != raw[i] {
			t.Errorf("Reveal(%s) = %q, %v; want %q", p, v, err, raw[i])
		}
	}
	// Without the key: nothing.
	other := NewRevealer(testKeyring(t, "k9"))
	other.LoadEscrow(bytes.NewReader(buf.Bytes()))
	p, _ := out.Get("acct")
	if _, err := other.Reveal(p); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revealed without the key: %v", err)
	}
	// A swapped entry (ciphertext moved to another pseudonym) fails.
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	p0, c0, _ := strings.Cut(lines[0], " ")
	p1, c1, _ := strings.Cut(lines[1], " ")
	forged := NewRevealer(kr)
	forged.LoadEscrow(strings.NewReader(p0 + " " + c1 + "\n" + p1 + " " + c0 + "\n"))
	if v, err := forged.Reveal(p0); err == nil {
		t.Errorf("swapped escrow entry revealed %q", v)
	}
	// Candidates work without an escrow; Crypto-PAn addresses too.
	c := NewRevealer(kr)
	c.AddCandidates("root", "andrew_kroh")
	if v, err := c.Reveal(p); err != nil || v != "andrew_kroh" {
		t.Errorf("candidate reveal: %q %v", v, err)
	}
	out2, _ := f.Apply(ev("USER_LOGIN", "addr", "96.241.146.97"))
	a, _ := out2.Get("addr")
	if v, err := c.Reveal(a); err != nil || v != "96.241.146.97" {
		t.Errorf("Reveal(%s) = %q, %v", a, v, err)
	}
	if _, err := c.Reveal("trunc:10.0.0.0/24"); err == nil {
		t.Error("revealed a truncated address")
	}
	if err := c.LoadEscrow(strings.NewReader("garbage\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad escrow: %v", err)
	}
}

func TestEscrowFileMode(t *testing.T) {
	kr := testKeyring(t)
	path := filepath.Join(t.TempDir(), "escrow")
	e, err := CreateEscrow(path, kr)
	if err != nil {
		t.Fatal(err)
	}
	e.Record(kr.Pseudonym(KindUser, "alice"), "alice")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Errorf("escrow mode %o size %d", st.Mode().Perm(), st.Size())
	}
	os.Chmod(path, 0o644)
	if _, err := CreateEscrow(path, kr); err == nil {
		t.Error("world-readable escrow accepted")
	}
}

func TestAccounts(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n# c\nsvc:x:999:999::/:/bin/false\n"
	names, ids, err := ParseAccounts(strings.NewReader(passwd))
	if err != nil || strings.Join(names, ",") != "root,nobody,alice,svc" || strings.Join(ids, ",") != "0,65534,1000,999" {
		t.Errorf("ParseAccounts = %v %v %v", names, ids, err)
	}
	human, err := ParseHumanAccounts(strings.NewReader(passwd), 1000)
	if err != nil || strings.Join(human, ",") != "alice" {
		t.Errorf("ParseHumanAccounts = %v %v", human, err)
	}
}

func TestIsPseudonymAgreesWithParse(t *testing.T) {
	kr := testKeyring(t)
	good := kr.Pseudonym(KindHost, "h")
	mac := good[len(good)-26:]
	for _, s := range []string{good, "ps:k1:uid:" + strings.Repeat("a", 26), "ps:k1:uid:" + strings.Repeat("a", 25) + "b",
		"ps:k1:uid:" + strings.Repeat("a", 25) + "e", "ps:-k:uid:" + mac, "ps:k1:uid:" + mac[:25], "ps:k1:xx:" + mac, "ps:k1:uid:" + strings.ToUpper(mac),
		"ps::uid:" + mac, "ps:k1:uid:" + mac + "a", "ps:k1:uid:" + mac[:25] + "8"} {
		_, err := ParsePseudonym(s)
		if isPseudonym(s) != (err == nil) {
			t.Errorf("%q: isPseudonym %v, ParsePseudonym error %v", s, isPseudonym(s), err)
		}
	}
}
