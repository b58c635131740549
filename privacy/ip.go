package privacy

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPMode is how IP addresses are anonymised.
type IPMode uint8

// The IP modes.
const (
	// IPCryptoPAn maps each address prefix-preservingly with Crypto-PAn
	// under the current key, rendered "pan:<key id>:<address>".
	IPCryptoPAn IPMode = iota
	// IPTruncate keeps only a prefix (IPConfig.V4Prefix/V6Prefix bits),
	// rendered "trunc:<network>/<bits>".
	IPTruncate
)

// String returns "cryptopan" or "truncate".
func (m IPMode) String() string {
	switch m {
	case IPCryptoPAn:
		return "cryptopan"
	case IPTruncate:
		return "truncate"
	}
	return "ipmode(" + strconv.Itoa(int(m)) + ")"
}

// Markers of anonymised addresses. An anonymised address is never
// written bare, so that nobody mistakes it for a real one (and looks it
// up), and so that Lint can tell it from a raw address.
const (
	PanPrefix   = "pan:"   // pan:<key id>:<Crypto-PAn address>
	TruncPrefix = "trunc:" // trunc:<network>/<bits>
)

// IPConfig configures IP address anonymisation.
type IPConfig struct {
	Mode IPMode
	// V4Prefix and V6Prefix are the prefix lengths kept by IPTruncate
	// (defaults 24 and 48).
	V4Prefix int
	V6Prefix int
}

// anonAddr anonymises one address (without port) and renders it.
func (f *Filter) anonAddr(a netip.Addr) string {
	if f.ip.Mode == IPTruncate {
		bits := f.ip.V6Prefix
		if a.Is4() || a.Is4In6() {
			a = a.Unmap()
			bits = f.ip.V4Prefix
		}
		p, err := a.WithZone("").Prefix(bits)
		if err != nil { // cannot happen: bits validated
			return "[redacted:ip]"
		}
		return TruncPrefix + p.String()
	}
	if s, ok := f.ipCache.get(a); ok {
		return s
	}
	s := PanPrefix + f.kr.current.id + ":" + f.kr.current.pan.Anonymize(a).String()
	f.ipCache.put(a, s)
	return s
}

// anonIPValue anonymises a field value holding an address, optionally
// with a port ("1.2.3.4", "1.2.3.4:80", "[2001:db8::1]:443", "::1").
// ok is false if the value is not an address.
func (f *Filter) anonIPValue(v string) (string, bool) {
	if a, err := netip.ParseAddr(v); err == nil {
		return f.anonAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return f.anonAddr(ap.Addr()) + " port=" + strconv.Itoa(int(ap.Port())), true
	}
	return "", false
}

// Address families in struct sockaddr.
const (
	afUnspec  = 0
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
	afPacket  = 17
)

// sockaddr is a decoded struct sockaddr.
type sockaddr struct {
	family int
	addr   netip.Addr // inet, inet6
	port   uint16
	path   string // unix
}

// decodeSockaddr decodes the hex encoding of a struct sockaddr as the
// kernel writes it in audit SOCKADDR records (saddr=…). The family is in
// host byte order: little-endian is tried first, then big-endian (records
// from big-endian machines). Ports and addresses are in network order.
func decodeSockaddr(h string) (sockaddr, error) {
	var sa sockaddr
	if len(h) < 4 || len(h)%2 != 0 || len(h) > 2*4096 {
		return sa, fmt.Errorf("not a hex sockaddr")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return sa, fmt.Errorf("not a hex sockaddr")
	}
	fam := int(binary.LittleEndian.Uint16(b))
	if !knownFamily(fam) {
		if be := int(binary.BigEndian.Uint16(b)); knownFamily(be) {
			fam = be
		}
	}
	sa.family = fam
	switch fam {
	case afInet:
		if len(b) < 8 {
			return sa, fmt.Errorf("short AF_INET sockaddr")
		}
		sa.port = binary.BigEndian.Uint16(b[2:])
		sa.addr = netip.AddrFrom4([4]byte(b[4:8]))
	case afInet6:
		if len(b) < 24 {
			return sa, fmt.Errorf("short AF_INET6 sockaddr")
		}
		sa.port = binary.BigEndian.Uint16(b[2:])
		sa.addr = netip.AddrFrom16([16]byte(b[8:24]))
	case afUnix:
		p := b[2:]
		abstract := len(p) > 0 && p[0] == 0
		if abstract {
			p = p[1:]
		}
		if i := strings.IndexByte(string(p), 0); i >= 0 && !abstract {
			p = p[:i]
		}
		s := strings.TrimRight(string(p), "\x00")
		if abstract {
			s = "@" + s
		}
		sa.path = s
	}
	return sa, nil
}

func knownFamily(f int) bool {
	switch f {
	case afUnspec, afUnix, afInet, afInet6, afNetlink, afPacket:
		return true
	}
	return false
}

// anonSockaddr renders a hex sockaddr with its address anonymised:
//
//	family=inet addr=pan:k1:135.242.180.132 port=53
//	family=inet6 addr=pan:k1:4401:2bc:… port=443
//	family=local path=/run/ps:k1:uid:…/bus
//	family=netlink | family=packet | family=unspec | family=<number>
//
// Raw bytes of other families (link-layer addresses of AF_PACKET…) are
// not written. ok is false if the value is not a hex sockaddr.
func (f *Filter) anonSockaddr(v string, t *tally) (string, bool) {
	sa, err := decodeSockaddr(v)
	if err != nil {
		return "", false
	}
	switch sa.family {
	case afInet, afInet6:
		fam := "inet"
		if sa.family == afInet6 {
			fam = "inet6"
		}
		addr := sa.addr
		var a string
		if addr.IsUnspecified() {
			a = addr.String() // 0.0.0.0 and :: identify nobody (bind to any)
		} else {
			a = f.anonAddr(addr)
		}
		return "family=" + fam + " addr=" + a + " port=" + strconv.Itoa(int(sa.port)), true
	case afUnix:
		return "family=local path=" + f.scrub(sa.path, t), true
	case afNetlink:
		return "family=netlink", true
	case afPacket:
		return "family=packet", true
	case afUnspec:
		return "family=unspec", true
	}
	return "family=" + strconv.Itoa(sa.family), true
}
