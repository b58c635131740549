package audit

import (
	"bytes"
	"strconv"
	"time"
)

// Stamp is the identity the kernel gives every record of one event: the
// time and the serial in "audit(1364481363.243:24287)". Serials count up
// per kernel boot; all records of one event carry the same stamp.
type Stamp struct {
	Sec    int64  // seconds since the Unix epoch
	Milli  uint32 // milliseconds, 0–999
	Serial uint64 // event serial number
}

// Time returns the stamp's time.
func (s Stamp) Time() time.Time {
	return time.Unix(s.Sec, int64(s.Milli)*int64(time.Millisecond))
}

// String formats s the way the kernel does: "1364481363.243:24287".
func (s Stamp) String() string {
	b := strconv.AppendInt(nil, s.Sec, 10)
	b = append(b, '.')
	m := s.Milli
	b = append(b, byte('0'+m/100%10), byte('0'+m/10%10), byte('0'+m%10), ':')
	b = strconv.AppendUint(b, s.Serial, 10)
	return string(b)
}

// Encoding says how a field's value was written in the record.
type Encoding uint8

// Field value encodings.
const (
	Plain  Encoding = iota // an unquoted token: 1000, (null), c000003e
	Quoted                 // a double-quoted string: "/usr/bin/cat"
	Hex                    // hex-encoded bytes (the kernel's untrusted-string encoding)
	Nested                 // a single-quoted user-space message: msg='op=login …'
	Braced                 // an AVC permission list: { read write }
)

// field flags
const (
	fQuoted   = 1 << iota // value was "…"
	fNested               // value was '…' (the msg field of user messages)
	fInner                // field came from inside msg='…'
	fEnriched             // field came after the 0x1d separator
	fSynthKey             // key is synthKeys[k0], not a span of the text
	fBraced               // value was { … }
)

// synthetic keys for values that the text writes without a key
var synthKeys = [...]string{"seresult", "seperms", "old-auid", "old-ses"}

const (
	synthSEResult = iota
	synthSEPerms
	synthOldAUID
	synthOldSes
)

// field is one key=value pair, as offsets into Record.text.
type field struct {
	k0, k1 uint32
	v0, v1 uint32
	h      uint8
	flags  uint8
}

// Record is one parsed audit record. Keys and values point into the
// record's own copy of its text: parsing copies the input once and
// allocates nothing per field; values are decoded (quotes removed, hex
// decoded) only when asked for.
//
// A Record is immutable after parsing and safe for concurrent readers.
type Record struct {
	Type  RecordType // record type (name and number)
	Stamp Stamp      // time and serial of the event the record belongs to
	Node  string     // the node= prefix, when the log has one

	text   []byte // the whole line (log form) or the whole payload (netlink form)
	body   uint32 // offset of the first field in text
	fields []field
}

// Clone returns a copy of r that shares no memory with it. Records from a
// Reader are carved out of shared buffers (about 300 KiB each); keep
// clones, not the originals, of records held for a long time.
func (r *Record) Clone() *Record {
	c := *r
	c.text = bytes.Clone(r.text)
	c.fields = append([]field(nil), r.fields...)
	return &c
}

// Text returns the record as it was read (without the line end). The slice
// is the record's own: do not modify it.
func (r *Record) Text() []byte { return r.text }

// Body returns the part of the record after the "audit(…): " header.
func (r *Record) Body() []byte { return r.text[r.body:] }

// NumFields returns the number of fields, counting those inside a nested
// msg='…' and the enrichment fields after 0x1d.
func (r *Record) NumFields() int { return len(r.fields) }

// Field describes field i (0 ≤ i < NumFields) with its decoded value. It
// allocates; use Get or Bytes to look up single fields.
func (r *Record) Field(i int) Field {
	f := &r.fields[i]
	out := Field{
		Key:      string(r.key(f)),
		Raw:      string(r.text[f.v0:f.v1]),
		Value:    string(r.value(f)),
		Inner:    f.flags&fInner != 0,
		Enriched: f.flags&fEnriched != 0,
	}
	out.Encoding = r.encoding(f)
	return out
}

// encoding says how the value of f is written. Whether an unquoted value
// is hex is decided here, when the value is read, not while parsing: the
// value of a field that may be encoded (encodedField) is hex if it is an
// even-length run of hex digits.
func (r *Record) encoding(f *field) Encoding {
	switch {
	case f.flags&fQuoted != 0:
		return Quoted
	case f.flags&fNested != 0:
		return Nested
	case f.flags&fBraced != 0:
		return Braced
	case f.flags&(fEnriched|fSynthKey) == 0 && encodedField(r.Type, r.text[f.k0:f.k1]) && isHex(r.text[f.v0:f.v1]):
		return Hex
	}
	return Plain
}

// Field is one key=value pair of a record, for iteration and display.
type Field struct {
	Key      string   // field name; seresult/seperms for an AVC's "denied { read }"
	Value    string   // decoded value: without quotes, hex decoded
	Raw      string   // the value as written, without its quotes
	Encoding Encoding // how the value was written
	Inner    bool     // the field was inside a user-space msg='…'
	Enriched bool     // the field follows the 0x1d separator (auditd's ENRICHED format)
}

func (r *Record) key(f *field) []byte {
	if f.flags&fSynthKey != 0 {
		return []byte(synthKeys[f.k0])
	}
	return r.text[f.k0:f.k1]
}

func (r *Record) value(f *field) []byte {
	v := r.text[f.v0:f.v1]
	if r.encoding(f) == Hex {
		return decodeHex(v)
	}
	return v
}

func keyHash(k string) uint8 {
	if len(k) == 0 {
		return 0
	}
	return uint8(len(k))*31 + k[0]*7 + k[len(k)-1]
}

func keyHashBytes(k []byte) uint8 {
	if len(k) == 0 {
		return 0
	}
	return uint8(len(k))*31 + k[0]*7 + k[len(k)-1]
}

// find returns the first field named key among the record's own fields
// (enriched=false) or the enrichment fields (enriched=true). Lookup is a
// scan over at most a few dozen fields with a one-byte hash compare first,
// in practice a few nanoseconds per field.
func (r *Record) find(key string, enriched bool) *field {
	h := keyHash(key)
	for i := range r.fields {
		f := &r.fields[i]
		if f.h != h || (f.flags&fEnriched != 0) != enriched {
			continue
		}
		if f.flags&fSynthKey != 0 {
			if synthKeys[f.k0] == key {
				return f
			}
			continue
		}
		if string(r.text[f.k0:f.k1]) == key {
			return f
		}
	}
	return nil
}

// Has reports whether the record has a field named key.
func (r *Record) Has(key string) bool { return r.find(key, false) != nil }

// Get returns the decoded value of the first field named key: quotes
// removed, hex-encoded values (proctitle, execve arguments, names with
// spaces or control characters) decoded. Fields inside a user-space
// msg='…' are found by their own names; enrichment fields are not (see
// Enriched).
func (r *Record) Get(key string) (string, bool) {
	f := r.find(key, false)
	if f == nil {
		return "", false
	}
	return string(r.value(f)), true
}

// Bytes is Get without the string conversion. For values that are not hex
// encoded the slice points into the record: do not modify it.
func (r *Record) Bytes(key string) ([]byte, bool) {
	f := r.find(key, false)
	if f == nil {
		return nil, false
	}
	return r.value(f), true
}

// Raw returns the value of key as written (quotes removed, not decoded)
// and how it was encoded.
func (r *Record) Raw(key string) ([]byte, Encoding, bool) {
	f := r.find(key, false)
	if f == nil {
		return nil, Plain, false
	}
	return r.text[f.v0:f.v1], r.encoding(f), true
}

// Enriched returns a field of the enrichment that auditd's ENRICHED log
// format (and laurel) appends after a 0x1d byte: UID="root", ARCH=x86_64,
// SYSCALL=execve, …
func (r *Record) Enriched(key string) (string, bool) {
	f := r.find(key, true)
	if f == nil {
		return "", false
	}
	return string(r.text[f.v0:f.v1]), true
}

// Uint returns the value of key as a decimal unsigned number.
func (r *Record) Uint(key string) (uint64, bool) {
	f := r.find(key, false)
	if f == nil {
		return 0, false
	}
	return parseUint(r.text[f.v0:f.v1])
}

// Int returns the value of key as a decimal signed number.
func (r *Record) Int(key string) (int64, bool) {
	f := r.find(key, false)
	if f == nil {
		return 0, false
	}
	return parseInt(r.text[f.v0:f.v1])
}

// HexUint returns the value of key read as a hexadecimal number, the way
// the kernel writes arch and the syscall arguments a0–a3.
func (r *Record) HexUint(key string) (uint64, bool) {
	f := r.find(key, false)
	if f == nil {
		return 0, false
	}
	return parseHexUint(r.text[f.v0:f.v1])
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

func parseHexUint(b []byte) (uint64, bool) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		b = b[2:]
	}
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		v := unhex(c)
		if v > 15 {
			return 0, false
		}
		n = n<<4 | uint64(v)
	}
	return n, true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}

// isHex reports whether b is a non-empty, even-length hex string.
func isHex(b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 {
		return false
	}
	for _, c := range b {
		if unhex(c) > 15 {
			return false
		}
	}
	return true
}

func decodeHex(b []byte) []byte {
	out := make([]byte, len(b)/2)
	for i := range out {
		out[i] = unhex(b[2*i])<<4 | unhex(b[2*i+1])
	}
	return out
}
