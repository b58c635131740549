package privacy

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// Known-answer vectors.
//
// sampleKey and sampleV4 are from the Crypto-PAn 1.0 distribution by
// Jinliang Fan (Georgia Tech): the key is the my_key array of sample.cpp
// (21,34,23,141,51,164,207,128,…), the pairs are the distinct addresses
// of sample_trace_raw.dat and the corresponding ones of
// sample_trace_sanitized.dat, as listed (sorted, deduplicated) in
// github.com/Yawning/cryptopan, cryptopan_test.go, commit 55312e47
// (BSD-2-Clause).
var sampleKey = []byte{
	21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
}

var sampleV4 = [][2]string{
	{"128.11.68.132", "135.242.180.132"},
	{"129.118.74.4", "134.136.186.123"},
	{"130.132.252.244", "133.68.164.234"},
	{"141.223.7.43", "141.167.8.160"},
	{"141.233.145.108", "141.129.237.235"},
	{"152.163.225.39", "151.140.114.167"},
	{"156.29.3.236", "147.225.12.42"},
	{"165.247.96.84", "162.9.99.234"},
	{"166.107.77.190", "160.132.178.185"},
	{"192.102.249.13", "252.138.62.131"},
	{"192.215.32.125", "252.43.47.189"},
	{"192.233.80.103", "252.25.108.8"},
	{"192.41.57.43", "252.222.221.184"},
	{"193.150.244.223", "253.169.52.216"},
	{"195.205.63.100", "255.186.223.5"},
	{"198.200.171.101", "249.199.68.213"},
	{"198.26.132.101", "249.36.123.202"},
	{"198.36.213.5", "249.7.21.132"},
	{"198.51.77.238", "249.18.186.254"},
	{"199.217.79.101", "248.38.184.213"},
	{"202.49.198.20", "245.206.7.234"},
	{"203.12.160.252", "244.248.163.4"},
	{"204.184.162.189", "243.192.77.90"},
	{"204.202.136.230", "243.178.4.198"},
	{"204.29.20.4", "243.33.20.123"},
	{"205.178.38.67", "242.108.198.51"},
	{"205.188.147.153", "242.96.16.101"},
	{"205.188.248.25", "242.96.88.27"},
	{"205.245.121.43", "242.21.121.163"},
	{"207.105.49.5", "241.118.205.138"},
	{"207.135.65.238", "241.202.129.222"},
	{"207.155.9.214", "241.220.250.22"},
	{"207.188.7.45", "241.255.249.220"},
	{"207.25.71.27", "241.33.119.156"},
	{"207.33.151.131", "241.1.233.131"},
	{"208.147.89.59", "227.237.98.191"},
	{"208.234.120.210", "227.154.67.17"},
	{"208.28.185.184", "227.39.94.90"},
	{"208.52.56.122", "227.8.63.165"},
	{"209.12.231.7", "226.243.167.8"},
	{"209.238.72.3", "226.6.119.243"},
	{"209.246.74.109", "226.22.124.76"},
	{"209.68.60.238", "226.184.220.233"},
	{"209.85.249.6", "226.170.70.6"},
	{"212.120.124.31", "228.135.163.231"},
	{"212.146.8.236", "228.19.4.234"},
	{"212.186.227.154", "228.59.98.98"},
	{"212.204.172.118", "228.71.195.169"},
	{"212.206.130.201", "228.69.242.193"},
	{"216.148.237.145", "235.84.194.111"},
	{"216.157.30.252", "235.89.31.26"},
	{"216.184.159.48", "235.96.225.78"},
	{"216.227.10.221", "235.28.253.36"},
	{"216.254.18.172", "235.7.16.162"},
	{"216.32.132.250", "235.192.139.38"},
	{"216.35.217.178", "235.195.157.81"},
	{"24.0.250.221", "100.15.198.226"},
	{"24.13.62.231", "100.2.192.247"},
	{"24.14.213.138", "100.1.42.141"},
	{"24.5.0.80", "100.9.15.210"},
	{"24.7.198.88", "100.10.6.25"},
	{"24.94.26.44", "100.88.228.35"},
	{"38.15.67.68", "64.3.66.187"},
	{"4.3.88.225", "124.60.155.63"},
	{"63.14.55.111", "95.9.215.7"},
	{"63.195.241.44", "95.179.238.44"},
	{"63.97.7.140", "95.97.9.123"},
	{"64.14.118.196", "0.255.183.58"},
	{"64.34.154.117", "0.221.154.117"},
	{"64.39.15.238", "0.219.7.41"},
}

// perlKAT: the test script t/IP-Anonymous.t of IP::Anonymous 0.04 (John
// Kristoff, 2005; Perl port of Crypto-PAn, on CPAN), tests 2–11: key
// bytes 0..31, then the sample key above. (Test 5 anonymises
// 165.254.100.50 although its comment says 169.254.100.50.)
var perlKAT = []struct {
	key       []byte
	orig, out string
}{
	{seqKey(), "0.0.0.0", "254.152.65.220"},
	{seqKey(), "10.0.1.128", "246.35.190.47"},
	{seqKey(), "127.0.0.1", "168.227.160.61"},
	{seqKey(), "165.254.100.50", "90.1.157.13"},
	{seqKey(), "255.255.255.255", "56.0.15.254"},
	{sampleKey, "0.0.0.0", "120.255.240.1"},
	{sampleKey, "10.0.1.128", "117.15.1.129"},
	{sampleKey, "127.0.0.1", "33.0.243.129"},
	{sampleKey, "169.254.100.50", "169.251.68.45"},
	{sampleKey, "255.255.255.255", "206.120.97.255"},
}

func seqKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// crossV6: IPv6 has no vectors from the original distribution (which is
// IPv4 only). These are the outputs of two independent implementations
// of the natural 128-bit extension (the same construction over 128 bits),
// used as cross-implementation checks: github.com/Yawning/cryptopan
// cryptopan_test.go (commit 55312e47, sample key) and the usage example
// of github.com/keiichishima/yacryptopan README.md (key
// "32-char-str-for-AES-key-and-pad.").
var crossV6 = []struct {
	key       []byte
	orig, out string
}{
	{sampleKey, "::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
	{sampleKey, "::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
	{sampleKey, "::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
	{sampleKey, "2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
	{sampleKey, "2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
	{[]byte("32-char-str-for-AES-key-and-pad."), "2001:db8::1", "27fe:8bc7:fee:1e:1e1f:f0fe:f0e1:83fd"},
	{[]byte("32-char-str-for-AES-key-and-pad."), "192.0.2.1", "192.0.125.244"},
}

func mustPAn(t testing.TB, key []byte) *CryptoPAn {
	t.Helper()
	c, err := NewCryptoPAn(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCryptoPAnSampleVectors(t *testing.T) {
	c := mustPAn(t, sampleKey)
	if len(sampleV4) != 70 {
		t.Fatalf("%d vectors, want the 70 distinct sample addresses", len(sampleV4))
	}
	for _, v := range sampleV4 {
		in, want := netip.MustParseAddr(v[0]), netip.MustParseAddr(v[1])
		if got := c.Anonymize(in); got != want {
			t.Errorf("Anonymize(%s) = %s, want %s", in, got, want)
		}
		if got := c.Deanonymize(want); got != in {
			t.Errorf("Deanonymize(%s) = %s, want %s", want, got, in)
		}
	}
}

func TestCryptoPAnPerlVectors(t *testing.T) {
	for _, v := range perlKAT {
		c := mustPAn(t, v.key)
		if got := c.Anonymize(netip.MustParseAddr(v.orig)); got.String() != v.out {
			t.Errorf("key %d…: Anonymize(%s) = %s, want %s", v.key[0], v.orig, got, v.out)
		}
	}
}

func TestCryptoPAnIPv6CrossImplementation(t *testing.T) {
	for _, v := range crossV6 {
		c := mustPAn(t, v.key)
		in, want := netip.MustParseAddr(v.orig), netip.MustParseAddr(v.out)
		if got := c.Anonymize(in); got != want {
			t.Errorf("key %q…: Anonymize(%s) = %s, want %s", v.key[:4], in, got, want)
		}
		if got := c.Deanonymize(want); got != in {
			t.Errorf("Deanonymize(%s) = %s, want %s", want, got, in)
		}
	}
}

// commonPrefix returns the number of leading bits a and b share.
func commonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		return n + bits.LeadingZeros8(d)
	}
	return n
}

// TestCryptoPAnPrefixPreservingProperty checks, on random keys and
// addresses, that two addresses sharing exactly k leading bits map to
// addresses sharing exactly k leading bits (IPv4 and IPv6), and that
// Deanonymize inverts Anonymize.
func TestCryptoPAnPrefixPreservingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{4, 16} {
		for range 8 {
			key := make([]byte, 32)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			c := mustPAn(t, key)
			for range 150 {
				var a [16]byte
				for i := range a {
					a[i] = byte(rng.Uint32())
				}
				k := rng.IntN(n * 8)
				b := a
				b[k/8] ^= 0x80 >> (k % 8) // differ first at bit k
				for i := k + 1; i < n*8; i++ {
					if rng.IntN(2) == 1 {
						b[i/8] ^= 0x80 >> (i % 8)
					}
				}
				var x, y netip.Addr
				if n == 4 {
					x, y = netip.AddrFrom4([4]byte(a[:4])), netip.AddrFrom4([4]byte(b[:4]))
				} else {
					x, y = netip.AddrFrom16(a), netip.AddrFrom16(b)
				}
				ax, ay := c.Anonymize(x), c.Anonymize(y)
				if ax.Is4() != x.Is4() {
					t.Fatalf("%s → %s changes family", x, ax)
				}
				off := 0
				if n == 4 {
					off = 96 // As16 of IPv4 is ::ffff:a.b.c.d
				}
				if got := commonPrefix(ax, ay) - off; got != k {
					t.Fatalf("%s, %s share %d bits; images %s, %s share %d", x, y, k, ax, ay, got)
				}
				if c.Deanonymize(ax) != x || c.Deanonymize(ay) != y {
					t.Fatalf("Deanonymize does not invert Anonymize for %s / %s", x, y)
				}
			}
		}
	}
}

// TestCryptoPAnBijective maps every address of an IPv4 /16 and of an IPv6
// /116: the images are distinct (one-to-one) and share the block's prefix
// image.
func TestCryptoPAnBijective(t *testing.T) {
	c := mustPAn(t, sampleKey)
	seen := map[netip.Addr]bool{}
	base := c.Anonymize(netip.MustParseAddr("10.1.0.0")).As4()
	for i := range 1 << 16 {
		a := c.Anonymize(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
		if b := a.As4(); b[0] != base[0] || b[1] != base[1] || seen[a] {
			t.Fatalf("image %s of 10.1.%d.%d: outside the /16 image or repeated", a, i>>8, i&255)
		}
		seen[a] = true
	}
	clear(seen)
	p6 := netip.MustParseAddr("2001:db8:1:2:3:4:5:0").As16()
	for i := range 1 << 12 {
		x := p6
		x[14], x[15] = byte(i>>8), byte(i)
		a := c.Anonymize(netip.AddrFrom16(x))
		if seen[a] || commonPrefix(a, c.Anonymize(netip.AddrFrom16(p6))) < 116 {
			t.Fatalf("IPv6 image %s repeated or outside the /116 image", a)
		}
		seen[a] = true
	}
	if len(seen) != 1<<12 {
		t.Fatalf("%d distinct images", len(seen))
	}
}

func TestCryptoPAnKeySize(t *testing.T) {
	if _, err := NewCryptoPAn(make([]byte, 31)); err == nil {
		t.Error("31-byte key accepted")
	}
	c := mustPAn(t, sampleKey)
	if got := c.Anonymize(netip.Addr{}); got.IsValid() {
		t.Errorf("invalid address → %s", got)
	}
	if z := c.Anonymize(netip.MustParseAddr("fe80::1%eth0")); z.Zone() != "eth0" {
		t.Errorf("zone lost: %s", z)
	}
	// IPv4-mapped addresses are anonymised as IPv4 and stay mapped.
	m := c.Anonymize(netip.MustParseAddr("::ffff:128.11.68.132"))
	if !m.Is4In6() || m.Unmap().String() != "135.242.180.132" {
		t.Errorf("mapped → %s", m)
	}
}
