package privacy

import (
	"strconv"
	"time"

	"github.com/rampart-sec/rampart/internal/jsonstr"
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
	dst = jsonstr.Append(dst, e.Type, true)
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
		dst = jsonstr.Append(dst, f.Name, true)
		dst = append(dst, ':')
		dst = jsonstr.Append(dst, f.Value, true)
	}
	return append(dst, "}}"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON's format.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}
