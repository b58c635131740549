package audit

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Address families (linux/socket.h) that SockAddr decodes.
const (
	AFUnspec  = 0
	AFUnix    = 1
	AFInet    = 2
	AFInet6   = 10
	AFNetlink = 16
	AFPacket  = 17
)

// SockAddr is a decoded SOCKADDR record: the socket address a connect,
// bind, accept, sendto … used.
type SockAddr struct {
	Family   int        // address family (AF_*)
	Addr     netip.Addr // AF_INET / AF_INET6 address
	Port     uint16     // AF_INET / AF_INET6 port
	Path     string     // AF_UNIX path (for an abstract socket, the name without its leading NUL)
	Abstract bool       // AF_UNIX abstract namespace
	PID      uint32     // AF_NETLINK port id
	Groups   uint32     // AF_NETLINK multicast groups
	Raw      []byte     // the decoded bytes
}

// FamilyName returns "inet", "inet6", "unix", "netlink", … or the number.
func (s SockAddr) FamilyName() string {
	switch s.Family {
	case AFUnspec:
		return "unspec"
	case AFUnix:
		return "unix"
	case AFInet:
		return "inet"
	case AFInet6:
		return "inet6"
	case AFNetlink:
		return "netlink"
	case AFPacket:
		return "packet"
	}
	return strconv.Itoa(s.Family)
}

// String formats the address: "127.0.0.1:11211", "[::1]:11211",
// "unix:/run/nscd/socket", "unix:@abstract", "netlink:pid=0".
func (s SockAddr) String() string {
	switch s.Family {
	case AFInet, AFInet6:
		return netip.AddrPortFrom(s.Addr, s.Port).String()
	case AFUnix:
		if s.Abstract {
			return "unix:@" + s.Path
		}
		return "unix:" + s.Path
	case AFNetlink:
		return "netlink:pid=" + strconv.FormatUint(uint64(s.PID), 10)
	}
	return s.FamilyName()
}

type byteOrder uint8

const (
	orderUnknown byteOrder = iota
	orderLittle
	orderBig
)

// decodeSockaddr decodes a struct sockaddr. sa_family is in the audited
// machine's byte order; ports and IP addresses are in network order.
func decodeSockaddr(b []byte, order byteOrder) SockAddr {
	s := SockAddr{Raw: b}
	if len(b) < 2 {
		return s
	}
	le := int(binary.LittleEndian.Uint16(b))
	be := int(binary.BigEndian.Uint16(b))
	switch order {
	case orderLittle:
		s.Family = le
	case orderBig:
		s.Family = be
	default:
		// Unknown machine: families are small numbers (< 64), so at
		// most one reading is plausible.
		s.Family = le
		if le >= 64 && be < 64 {
			s.Family = be
		}
	}
	var host binary.ByteOrder = binary.LittleEndian
	if s.Family == be && s.Family != le {
		host = binary.BigEndian
	}
	switch s.Family {
	case AFInet:
		if len(b) >= 8 {
			s.Port = binary.BigEndian.Uint16(b[2:])
			s.Addr = netip.AddrFrom4([4]byte(b[4:8]))
		}
	case AFInet6:
		if len(b) >= 24 {
			s.Port = binary.BigEndian.Uint16(b[2:])
			s.Addr = netip.AddrFrom16([16]byte(b[8:24]))
			if len(b) >= 28 {
				if zone := host.Uint32(b[24:28]); zone != 0 && s.Addr.IsLinkLocalUnicast() {
					s.Addr = s.Addr.WithZone(strconv.FormatUint(uint64(zone), 10))
				}
			}
		}
	case AFUnix:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			s.Abstract = true
			s.Path = string(bytes.TrimRight(p[1:], "\x00"))
		} else if i := bytes.IndexByte(p, 0); i >= 0 {
			s.Path = string(p[:i])
		} else {
			s.Path = string(p)
		}
	case AFNetlink:
		if len(b) >= 12 {
			s.PID = host.Uint32(b[4:8])
			s.Groups = host.Uint32(b[8:12])
		}
	}
	return s
}
