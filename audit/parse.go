package audit

import (
	"bytes"
	"strconv"
)

// Reason says why a line was not turned into a record.
type Reason uint8

// Reasons for skipping input. Blank lines and comments are skipped without
// being errors; the others are counted as parse errors.
const (
	ReasonNone         Reason = iota
	ReasonBlank               // an empty line
	ReasonComment             // a line starting with '#'
	ReasonNoType              // no type= at the start of the line
	ReasonUnknownType         // type=NAME with a name this package does not know and no number
	ReasonNoHeader            // no msg=audit(…) header
	ReasonBadStamp            // the audit(SEC.MS:SERIAL) header is malformed
	ReasonUnterminated        // a quoted value has no closing quote: a truncated record
	ReasonTooLong             // the line exceeds the reader's maximum length
	numReasons
)

var reasonNames = [numReasons]string{
	"none", "blank line", "comment", "no type= field", "unknown record type name",
	"no msg=audit(...) header", "malformed audit(...) stamp",
	"unterminated quoted value (truncated record)", "line too long",
}

// String describes the reason.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// ParseError is returned for input that is not an audit record.
type ParseError struct {
	Reason Reason
	Offset int // byte offset in the input where the problem was found
}

// Error describes the problem and where it is.
func (e *ParseError) Error() string {
	return "audit: " + e.Reason.String() + " at byte " + strconv.Itoa(e.Offset)
}

func perr(r Reason, off int) error { return &ParseError{Reason: r, Offset: off} }

// Parse parses one line of an audit log, or one record of auditd's plugin
// "string" format (the same text):
//
//	[node=NAME ]type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 …
//
// The line end, if any, is ignored. The record keeps its own copy of line.
func Parse(line []byte) (*Record, error) {
	line = trimEOL(line)
	r := &Record{text: bytes.Clone(line)}
	var p parser
	if err := p.parseLine(r); err != nil {
		return nil, err
	}
	r.fields = append([]field(nil), p.fields...)
	return r, nil
}

// ParseNetlink parses a record as the kernel sends it over netlink: the
// message type and the payload "audit(1364481363.243:24287): arch=…".
// The record keeps its own copy of data.
func ParseNetlink(typ RecordType, data []byte) (*Record, error) {
	data = trimEOL(bytes.TrimRight(data, "\x00"))
	r := &Record{Type: typ, text: bytes.Clone(data)}
	var p parser
	if err := p.parseNetlink(r); err != nil {
		return nil, err
	}
	r.fields = append([]field(nil), p.fields...)
	return r, nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parser holds scratch space reused across records.
type parser struct {
	fields []field
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

func (p *parser) parseLine(r *Record) error {
	b := r.text
	i := skipSpace(b, 0)
	if i == len(b) {
		return perr(ReasonBlank, i)
	}
	if bytes.HasPrefix(b[i:], []byte("node=")) {
		j := i + 5
		for j < len(b) && b[j] != ' ' {
			j++
		}
		r.Node = string(b[i+5 : j])
		i = skipSpace(b, j)
	}
	if !bytes.HasPrefix(b[i:], []byte("type=")) {
		return perr(ReasonNoType, i)
	}
	i += 5
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	t, ok := parseTypeName(b[i:j])
	if !ok {
		return perr(ReasonUnknownType, i)
	}
	r.Type = t
	i = skipSpace(b, j)
	if !bytes.HasPrefix(b[i:], []byte("msg=audit(")) {
		return perr(ReasonNoHeader, i)
	}
	return p.parseStampAndBody(r, i+4)
}

func (p *parser) parseNetlink(r *Record) error {
	i := skipSpace(r.text, 0)
	if !bytes.HasPrefix(r.text[i:], []byte("audit(")) {
		return perr(ReasonNoHeader, i)
	}
	return p.parseStampAndBody(r, i)
}

// parseStampAndBody parses "audit(SEC.MS:SERIAL)" at i, an optional ':',
// then the fields.
func (p *parser) parseStampAndBody(r *Record, i int) error {
	b := r.text
	i += len("audit(")
	start := i
	var sec uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		sec = sec*10 + uint64(b[i]-'0')
		i++
	}
	if i == start || i-start > 18 || i >= len(b) || b[i] != '.' {
		return perr(ReasonBadStamp, i)
	}
	i++
	var ms uint32
	digits := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if digits < 3 {
			ms = ms*10 + uint32(b[i]-'0')
		}
		digits++
		i++
	}
	if digits == 0 || i >= len(b) || b[i] != ':' {
		return perr(ReasonBadStamp, i)
	}
	for ; digits < 3; digits++ {
		ms *= 10
	}
	i++
	start = i
	var serial uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		serial = serial*10 + uint64(b[i]-'0')
		i++
	}
	if i == start || i-start > 19 || i >= len(b) || b[i] != ')' {
		return perr(ReasonBadStamp, i)
	}
	i++
	if i < len(b) && b[i] == ':' {
		i++
	}
	r.Stamp = Stamp{Sec: int64(sec), Milli: ms, Serial: serial}
	r.body = uint32(skipSpace(b, i))
	p.fields = p.fields[:0]
	return p.scan(r, int(r.body), len(b), 0)
}

// scan splits text[i:end] into fields. flags are added to every field
// (fInner for the inside of msg='…').
func (p *parser) scan(r *Record, i, end int, flags uint8) error {
	b := r.text
	var (
		prevWord   []byte // the last bare word (no '='), for AVC and old LOGIN
		afterAVC   bool   // saw "avc:"
		inParen    bool   // inside an old-style "(hostname=?, addr=?, …)"
		enrichment = flags
	)
	for i < end {
		c := b[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == 0x1d {
			enrichment |= fEnriched
			i++
			continue
		}
		ks := i
		j := i
		for j < end && b[j] != '=' && b[j] != ' ' && b[j] != '\t' && b[j] != 0x1d {
			j++
		}
		if j == end || b[j] != '=' {
			// A bare word: free text such as "config changed," or the
			// SELinux AVC preamble "avc:  denied  { read } for".
			w := b[ks:j]
			i = j
			switch {
			case string(w) == "avc:":
				afterAVC = true
			case afterAVC && (string(w) == "denied" || string(w) == "granted"):
				p.fields = append(p.fields, field{k0: synthSEResult, v0: uint32(ks), v1: uint32(j),
					h: keyHash(synthKeys[synthSEResult]), flags: enrichment | fSynthKey})
			case string(w) == "{":
				k := j
				for k < end && b[k] != '}' {
					k++
				}
				vs, ve := skipSpace(b, j), k
				for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
					ve--
				}
				p.fields = append(p.fields, field{k0: synthSEPerms, v0: uint32(vs), v1: uint32(ve),
					h: keyHash(synthKeys[synthSEPerms]), flags: enrichment | fSynthKey | fBraced})
				i = k
				if i < end {
					i++
				}
			}
			prevWord = w
			continue
		}
		// key=value
		ke := j
		if b[ks] == '(' {
			ks++
			inParen = true
		}
		f := field{k0: uint32(ks), k1: uint32(ke), flags: enrichment}
		if len(prevWord) > 0 && string(prevWord) == "old" {
			switch string(b[ks:ke]) {
			case "auid":
				f.k0, f.flags = synthOldAUID, f.flags|fSynthKey
			case "ses":
				f.k0, f.flags = synthOldSes, f.flags|fSynthKey
			}
		}
		prevWord = nil
		v := j + 1
		switch {
		case v < end && b[v] == '"':
			q := bytes.IndexByte(b[v+1:end], '"')
			if q < 0 {
				return perr(ReasonUnterminated, v)
			}
			f.v0, f.v1 = uint32(v+1), uint32(v+1+q)
			f.flags |= fQuoted
			i = v + 2 + q
		case v < end && b[v] == '\'' && flags&fInner == 0 && enrichment&fEnriched == 0:
			q := closingSingleQuote(b, v+1, end)
			if q < 0 {
				return perr(ReasonUnterminated, v)
			}
			f.v0, f.v1 = uint32(v+1), uint32(q)
			f.flags |= fNested
			f.h = keyHashBytes(b[ks:ke])
			if ks < ke {
				p.fields = append(p.fields, f)
			}
			if err := p.scan(r, v+1, q, enrichment|fInner); err != nil {
				return err
			}
			i = q + 1
			continue
		default:
			e := v
			for e < end && b[e] != ' ' && b[e] != '\t' && b[e] != 0x1d {
				e++
			}
			ve := e
			if inParen {
				if ve > v && b[ve-1] == ')' {
					ve--
					inParen = false
				}
				if ve > v && b[ve-1] == ',' {
					ve--
				}
			}
			// A stray closing quote after an unquoted value
			// (key=65786563"), seen in real logs.
			if ve > v+1 && b[ve-1] == '"' && bytes.IndexByte(b[v:ve-1], '"') < 0 {
				ve--
			}
			f.v0, f.v1 = uint32(v), uint32(ve)
			i = e
		}
		if f.flags&fSynthKey != 0 {
			f.h = keyHash(synthKeys[f.k0])
		} else if f.k0 == f.k1 {
			continue // "=value" without a key: free text
		} else {
			f.h = keyHashBytes(b[f.k0:f.k1])
		}
		p.fields = append(p.fields, f)
	}
	return nil
}

// closingSingleQuote finds the ' that ends a msg='…' starting at i: the
// first one followed by the end, a blank or 0x1d, skipping "…" sections
// (a quoted value may contain a ').
func closingSingleQuote(b []byte, i, end int) int {
	for i < end {
		switch b[i] {
		case '"':
			q := bytes.IndexByte(b[i+1:end], '"')
			if q < 0 {
				return lastSingleQuote(b, i, end)
			}
			i += q + 2
			continue
		case '\'':
			if i+1 == end || b[i+1] == ' ' || b[i+1] == '\t' || b[i+1] == 0x1d {
				return i
			}
		}
		i++
	}
	return -1
}

func lastSingleQuote(b []byte, i, end int) int {
	if q := bytes.LastIndexByte(b[i:end], '\''); q >= 0 {
		return i + q
	}
	return -1
}

// encodedField reports whether the kernel or libaudit may hex-encode the
// value of key in a record of type t: the fields auparse interprets as
// escaped (auparse/typetab.h and auparse_interp_adjust_type), plus the
// execve arguments, proctitle and the TTY data. An unquoted value of such a
// field that is valid hex is decoded.
func encodedField(t RecordType, key []byte) bool {
	if t == TypeExecve && len(key) >= 2 && key[0] == 'a' && key[1] >= '0' && key[1] <= '9' {
		return !bytes.Contains(key, []byte("_len"))
	}
	switch string(key) {
	case "path", "comm", "exe", "file", "name", "watch", "cwd", "cmd", "acct",
		"dir", "key", "vm", "old-chardev", "new-chardev", "old-disk", "new-disk",
		"old-fs", "new-fs", "old-net", "new-net", "device", "cgroup", "old-rng",
		"new-rng", "ocomm", "grp", "new_group", "invalid_context", "sw",
		"root_dir", "proctitle", "data",
		// AppArmor (auparse built WITH_APPARMOR)
		"apparmor", "operation", "denied_mask", "info", "profile", "requested_mask":
		return true
	case "msg":
		return t == TypeUserTTY
	}
	return false
}
