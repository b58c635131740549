package privacy

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hint says what a field's value is, as far as the producer of the event
// (the audit parser) knows. Hints can only strengthen the configured
// action: a field hinted as an identifier is never written raw even if the
// configuration says keep (see Filter).
type Hint uint8

// The hints. HintNone means the producer knows nothing about the value.
const (
	HintNone      Hint = iota
	HintUID            // numeric user id
	HintGID            // numeric group id
	HintUser           // user name
	HintGroup          // group name
	HintHost           // host name
	HintPrincipal      // other principal (Kerberos, SELinux user, certificate subject…)
	HintIP             // IP address, optionally with a port
	HintSockaddr       // hex-encoded struct sockaddr, as in audit SOCKADDR records
	HintPath           // file system path
	HintArgv           // command line argument(s) or process title
	HintTime           // timestamp
)

var hintNames = [...]string{"none", "uid", "gid", "user", "group", "host", "principal", "ip", "sockaddr", "path", "argv", "time"}

// String returns the hint's name ("uid", "ip", "path", …).
func (h Hint) String() string {
	if int(h) < len(hintNames) {
		return hintNames[h]
	}
	return "hint(" + strconv.Itoa(int(h)) + ")"
}

// kind returns the pseudonym kind of an identifier hint, or "".
func (h Hint) kind() Kind {
	switch h {
	case HintUID:
		return KindUID
	case HintGID:
		return KindGID
	case HintUser:
		return KindUser
	case HintGroup:
		return KindGroup
	case HintHost:
		return KindHost
	case HintPrincipal:
		return KindPrincipal
	}
	return ""
}

// Field is one named value of an event.
type Field struct {
	Name  string
	Value string
	Hint  Hint
}

// Event is one record to be filtered: a type (for audit, the record type
// such as "SYSCALL") and its fields in their original order. Field names
// need not be unique. Time is the event's timestamp (zero if unknown).
type Event struct {
	Type   string
	Time   time.Time
	Fields []Field
}

// Get returns the value of the first field named name.
func (e *Event) Get(name string) (string, bool) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return e.Fields[i].Value, true
		}
	}
	return "", false
}

// Clone returns a deep copy of e (the field slice is copied).
func (e *Event) Clone() Event {
	c := *e
	c.Fields = append([]Field(nil), e.Fields...)
	return c
}

// AppendJSON appends e as one JSON object:
//
//	{"type":"SYSCALL","time":"2016-12-07T02:16:23.057Z","fields":{"arch":"c000003e",…}}
//
// Fields keep their order; "time" is left out when zero and is RFC 3339
// in UTC. Hints are not written. If two fields share a name both are
// written (JSON readers usually keep the last). Invalid UTF-8 is replaced
// by U+FFFD.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, e.Type)
	if !e.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"fields":{`...)
	for i, f := range e.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = appendJSONString(dst, f.Value)
	}
	return append(dst, "}}"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON's format.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
