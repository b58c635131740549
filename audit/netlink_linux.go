//go:build linux

package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// Netlink message types of the audit control protocol (linux/audit.h).
const (
	msgGet       = 1000
	msgSet       = 1001
	msgAddRule   = 1011
	msgDelRule   = 1012
	msgListRules = 1013

	nlmsgError = 2
	nlmsgDone  = 3

	nlmFRequest = 0x1
	nlmFAck     = 0x4

	// AUDIT_NLGRP_READLOG, the read-only multicast group (kernel ≥ 3.16)
	nlgrpReadlog = 1

	nlmsgHdrLen = 16
)

// StatusMask selects the status fields AUDIT_SET changes.
type StatusMask uint32

// Status fields (AUDIT_STATUS_*).
const (
	StatusEnabled         StatusMask = 0x0001
	StatusFailure         StatusMask = 0x0002
	StatusPID             StatusMask = 0x0004
	StatusRateLimit       StatusMask = 0x0008
	StatusBacklogLimit    StatusMask = 0x0010
	StatusBacklogWaitTime StatusMask = 0x0020
	StatusLost            StatusMask = 0x0040
)

// Failure modes (AUDIT_FAIL_*): what the kernel does when it cannot
// deliver a record.
const (
	FailSilent = 0
	FailPrintk = 1
	FailPanic  = 2
)

// Status is the kernel's struct audit_status.
type Status struct {
	Mask                  StatusMask
	Enabled               uint32 // 0 off, 1 on, 2 on and locked (immutable until reboot)
	Failure               uint32 // FailSilent, FailPrintk, FailPanic
	PID                   uint32 // pid of the registered audit daemon, 0 if none
	RateLimit             uint32 // records per second, 0 unlimited
	BacklogLimit          uint32 // records queued in the kernel before loss
	Lost                  uint32 // records lost since boot (or the last reset)
	Backlog               uint32 // records queued now
	FeatureBitmap         uint32
	BacklogWaitTime       uint32 // in jiffies
	BacklogWaitTimeActual uint32
}

const statusSize = 4 * 11

func (s *Status) marshal() []byte {
	b := make([]byte, statusSize)
	ne := binary.NativeEndian
	for i, v := range []uint32{uint32(s.Mask), s.Enabled, s.Failure, s.PID, s.RateLimit,
		s.BacklogLimit, s.Lost, s.Backlog, s.FeatureBitmap, s.BacklogWaitTime, s.BacklogWaitTimeActual} {
		ne.PutUint32(b[4*i:], v)
	}
	return b
}

func unmarshalStatus(b []byte) *Status {
	var w [11]uint32
	ne := binary.NativeEndian
	for i := range w {
		if 4*i+4 <= len(b) {
			w[i] = ne.Uint32(b[4*i:])
		}
	}
	return &Status{StatusMask(w[0]), w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]}
}

// Mode selects how a Client joins the audit subsystem.
type Mode int

// Client modes.
const (
	// Unicast: a control socket; it receives records only after SetPID
	// registers it as the audit daemon (which fails while auditd runs).
	Unicast Mode = iota
	// Multicast: a read-only socket in the AUDIT_NLGRP_READLOG group
	// (needs CAP_AUDIT_READ); it receives every record alongside auditd
	// and cannot configure anything.
	Multicast
)

// ErrOverflow is returned by Receive when the socket's receive buffer
// overflowed (ENOBUFS) and the kernel dropped messages. It is not fatal:
// count it as a loss and keep reading.
var ErrOverflow = errors.New("audit: netlink receive buffer overflow (ENOBUFS): records lost")

// Client is a NETLINK_AUDIT socket. Control methods (Status, Set…, rules)
// and Receive must not be called concurrently; Close may be called from
// another goroutine to unblock Receive.
type Client struct {
	mode    Mode
	fd      int
	f       *os.File
	rc      syscall.RawConn
	portID  uint32
	mu      sync.Mutex // serialises sends (seq)
	seq     uint32
	buf     []byte
	pending []message // records received while waiting for a reply
	timeout time.Duration
	ownPID  bool
}

type message struct {
	typ   uint16
	flags uint16
	seq   uint32
	data  []byte
}

// Dial opens an audit netlink socket. For Multicast it joins the
// read-only log group; the receive buffer is raised to 8 MiB (with
// SO_RCVBUFFORCE when allowed) to ride out bursts.
func Dial(mode Mode) (*Client, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("audit: netlink socket: %w", err)
	}
	sa := &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	if mode == Multicast {
		sa.Groups = 1 << (nlgrpReadlog - 1)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		if mode == Multicast {
			return nil, fmt.Errorf("audit: join the multicast log group (needs CAP_AUDIT_READ, kernel ≥ 3.16): %w", err)
		}
		return nil, fmt.Errorf("audit: netlink bind: %w", err)
	}
	const rcvbuf = 8 << 20
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, rcvbuf) != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
	}
	local, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("audit: getsockname: %w", err)
	}
	f := os.NewFile(uintptr(fd), "audit-netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &Client{mode: mode, fd: fd, f: f, rc: rc, buf: make([]byte, 1<<16), timeout: 5 * time.Second}
	if nl, ok := local.(*syscall.SockaddrNetlink); ok {
		c.portID = nl.Pid
	}
	return c, nil
}

// Close closes the socket, first unregistering the client as the audit
// daemon if SetPID registered it.
func (c *Client) Close() error {
	if c.ownPID {
		_ = c.ClearPID()
	}
	return c.f.Close()
}

// SetDeadline sets the time after which Receive (and control replies) fail
// with os.ErrDeadlineExceeded.
func (c *Client) SetDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

func (c *Client) send(typ uint16, flags uint16, payload []byte) (uint32, error) {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	b := make([]byte, nlmsgHdrLen+(len(payload)+3)&^3)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(nlmsgHdrLen+len(payload)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags|nlmFRequest)
	ne.PutUint32(b[8:], seq)
	ne.PutUint32(b[12:], c.portID)
	copy(b[nlmsgHdrLen:], payload)
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
		return serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("audit: netlink send: %w", err)
	}
	return seq, nil
}

// recv reads one datagram and splits it into messages.
func (c *Client) recv() ([]message, error) {
	var n int
	var from syscall.Sockaddr
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, from, rerr = syscall.Recvfrom(int(fd), c.buf, 0)
		return rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if errors.Is(err, syscall.ENOBUFS) {
		return nil, ErrOverflow
	}
	if err != nil {
		return nil, err
	}
	if nl, ok := from.(*syscall.SockaddrNetlink); !ok || nl.Pid != 0 {
		return nil, nil // not from the kernel: ignore
	}
	var out []message
	b := c.buf[:n]
	ne := binary.NativeEndian
	if len(b) >= nlmsgHdrLen && isRecordType(ne.Uint16(b[4:])) {
		// An audit record is always alone in its datagram, and the
		// kernel sets nlmsg_len of records sent to the registered
		// daemon to the payload length, without the header (multicast
		// copies are right): take the whole datagram.
		return []message{{typ: ne.Uint16(b[4:]), flags: ne.Uint16(b[6:]), seq: ne.Uint32(b[8:]), data: b[nlmsgHdrLen:]}}, nil
	}
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		out = append(out, message{typ: ne.Uint16(b[4:]), flags: ne.Uint16(b[6:]), seq: ne.Uint32(b[8:]), data: b[nlmsgHdrLen:l]})
		b = b[min((l+3)&^3, len(b)):]
	}
	return out, nil
}

// request sends a control message and collects the replies with its
// sequence number until done says the exchange is complete. Records that
// arrive meanwhile are queued for Receive.
func (c *Client) request(typ uint16, flags uint16, payload []byte, done func(m message) (bool, error)) error {
	if c.mode == Multicast {
		return errors.New("audit: a multicast client cannot configure audit")
	}
	seq, err := c.send(typ, flags, payload)
	if err != nil {
		return err
	}
	_ = c.f.SetReadDeadline(time.Now().Add(c.timeout))
	defer c.f.SetReadDeadline(time.Time{})
	for {
		msgs, err := c.recv()
		if err == ErrOverflow {
			continue
		}
		if err != nil {
			return fmt.Errorf("audit: waiting for the reply to %d: %w", typ, err)
		}
		for _, m := range msgs {
			if m.seq != seq {
				if isRecordType(m.typ) && len(c.pending) < 4096 {
					m.data = append([]byte(nil), m.data...)
					c.pending = append(c.pending, m)
				}
				continue
			}
			if m.typ == nlmsgError {
				if len(m.data) < 4 {
					return errors.New("audit: short netlink error")
				}
				if e := int32(binary.NativeEndian.Uint32(m.data)); e != 0 {
					return syscall.Errno(-e)
				}
			}
			fin, err := done(m)
			if err != nil || fin {
				return err
			}
		}
	}
}

func isRecordType(t uint16) bool { return t >= 1100 && t <= 2999 }

// ack waits for the NLMSG_ERROR acknowledgement.
func ack(m message) (bool, error) { return m.typ == nlmsgError, nil }

// Status returns the kernel's audit status (AUDIT_GET), including the lost
// counter and the backlog.
func (c *Client) Status() (*Status, error) {
	var st *Status
	err := c.request(msgGet, 0, nil, func(m message) (bool, error) {
		if m.typ == msgGet {
			st = unmarshalStatus(m.data)
			return true, nil
		}
		return false, nil
	})
	return st, err
}

// SetStatus changes the status fields selected by mask (AUDIT_SET).
func (c *Client) SetStatus(s Status, mask StatusMask) error {
	s.Mask = mask
	return c.request(msgSet, nlmFAck, s.marshal(), ack)
}

// SetEnabled turns auditing off (0), on (1), or on and locked (2: no more
// changes until reboot).
func (c *Client) SetEnabled(v uint32) error {
	return c.SetStatus(Status{Enabled: v}, StatusEnabled)
}

// SetFailure sets the failure mode (FailSilent, FailPrintk, FailPanic).
func (c *Client) SetFailure(v uint32) error {
	return c.SetStatus(Status{Failure: v}, StatusFailure)
}

// SetRateLimit sets the maximum records per second (0: unlimited).
func (c *Client) SetRateLimit(v uint32) error {
	return c.SetStatus(Status{RateLimit: v}, StatusRateLimit)
}

// SetBacklogLimit sets how many records the kernel queues before dropping.
func (c *Client) SetBacklogLimit(v uint32) error {
	return c.SetStatus(Status{BacklogLimit: v}, StatusBacklogLimit)
}

// SetBacklogWaitTime sets how long (in jiffies) an audited task waits when
// the backlog is full; 0 drops at once instead of stalling syscalls.
func (c *Client) SetBacklogWaitTime(v uint32) error {
	return c.SetStatus(Status{BacklogWaitTime: v}, StatusBacklogWaitTime)
}

// ResetLost sets the kernel's lost counter back to zero.
func (c *Client) ResetLost() error {
	return c.SetStatus(Status{}, StatusLost)
}

// SetPID registers this client's process as the audit daemon: the kernel
// then sends every record to this socket (unicast). It fails with EEXIST
// while another daemon (auditd) is registered. Close unregisters.
func (c *Client) SetPID() error {
	err := c.SetStatus(Status{PID: uint32(os.Getpid())}, StatusPID)
	if err == nil {
		c.ownPID = true
	}
	return err
}

// ClearPID unregisters the audit daemon (only the registered process may).
func (c *Client) ClearPID() error {
	err := c.SetStatus(Status{PID: 0}, StatusPID)
	if err == nil {
		c.ownPID = false
	}
	return err
}

// AddRule loads a rule (AUDIT_ADD_RULE). The kernel refuses a duplicate
// with EEXIST.
func (c *Client) AddRule(r *Rule) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	return c.request(msgAddRule, nlmFAck, b, ack)
}

// DeleteRule removes a rule equal to r (AUDIT_DEL_RULE); ENOENT if there is
// none. Prepend is ignored: the kernel forgets it once the rule is added.
func (c *Client) DeleteRule(r *Rule) error {
	d := *r
	d.Prepend = false
	b, err := d.Marshal()
	if err != nil {
		return err
	}
	return c.request(msgDelRule, nlmFAck, b, ack)
}

// Rules lists the loaded rules (AUDIT_LIST_RULES).
func (c *Client) Rules() ([]*Rule, error) {
	var out []*Rule
	var perr error
	err := c.request(msgListRules, 0, nil, func(m message) (bool, error) {
		switch m.typ {
		case msgListRules:
			r, err := UnmarshalRule(m.data)
			if err != nil && perr == nil {
				perr = err
			}
			if r != nil {
				out = append(out, r)
			}
		case nlmsgDone:
			return true, nil
		}
		return false, nil
	})
	if err == nil {
		err = perr
	}
	return out, err
}

// DeleteAllRules removes every rule and returns how many there were.
func (c *Client) DeleteAllRules() (int, error) {
	rules, err := c.Rules()
	if err != nil {
		return 0, err
	}
	for _, r := range rules {
		if err := c.DeleteRule(r); err != nil {
			return 0, err
		}
	}
	return len(rules), nil
}

// Receive returns the next audit record message: its type and payload
// ("audit(…): …"). The payload is valid until the next call. It returns
// ErrOverflow when the kernel dropped messages because the socket buffer
// was full (count it, keep reading), and os.ErrDeadlineExceeded after
// SetDeadline.
func (c *Client) Receive() (RecordType, []byte, error) {
	for {
		if len(c.pending) > 0 {
			m := c.pending[0]
			c.pending = c.pending[1:]
			return RecordType(m.typ), m.data, nil
		}
		msgs, err := c.recv()
		if err != nil {
			return 0, nil, err
		}
		for i, m := range msgs {
			if !isRecordType(m.typ) {
				continue
			}
			for _, rest := range msgs[i+1:] {
				if isRecordType(rest.typ) {
					rest.data = append([]byte(nil), rest.data...)
					c.pending = append(c.pending, rest)
				}
			}
			return RecordType(m.typ), m.data, nil
		}
	}
}

// Next receives and parses the next record. Parse errors are returned as
// *ParseError (skip and count them); see Receive for the others.
func (c *Client) Next() (*Record, error) {
	t, data, err := c.Receive()
	if err != nil {
		return nil, err
	}
	return ParseNetlink(t, data)
}
