package agent

import (
	"strconv"
	"time"

	"github.com/rampart-sec/rampart/internal/jsonstr"
	"github.com/rampart-sec/rampart/privacy"
)

// Ledger entries are canonical JSON (as in docs/images.md): object keys
// sorted by their bytes, no white space, strings escaped as Go's
// encoding/json escapes them without HTML escaping, integers only. The
// writers below emit keys in sorted order by construction; the tests
// re-encode every entry to check it.

// obj writes one JSON object. Keys must be added in sorted order.
type obj struct {
	b     []byte
	first bool
}

func openObj(b []byte) obj { return obj{b: append(b, '{'), first: true} }

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = jsonstr.Append(o.b, k, false)
	o.b = append(o.b, ':')
}

func (o *obj) str(k, v string) { o.key(k); o.b = jsonstr.Append(o.b, v, false) }

func (o *obj) uint(k string, v uint64) { o.key(k); o.b = strconv.AppendUint(o.b, v, 10) }

func (o *obj) time(k string, t time.Time) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = t.UTC().AppendFormat(o.b, time.RFC3339Nano)
	o.b = append(o.b, '"')
}

func (o *obj) close() []byte { return append(o.b, '}') }

// fieldSorter orders fields by name. Records of one type usually carry
// the same fields in the same order, so the permutation that sorted the
// last record of a type and length is tried first (checked in one pass);
// only when it does not sort the record is it sorted again.
type fieldSorter struct {
	perms map[sortKey][]int
	order []int
}

type sortKey struct {
	typ string
	n   int
}

// sort returns the indexes of fields in name order, stable. The slice is
// valid until the next call.
func (s *fieldSorter) sort(typ string, fields []privacy.Field) []int {
	n := len(fields)
	k := sortKey{typ, n}
	if p, ok := s.perms[k]; ok && sortedBy(fields, p) {
		return p
	}
	order := s.order[:0]
	for i := range fields {
		order = append(order, i)
	}
	for i := 1; i < n; i++ {
		x := order[i]
		name := fields[x].Name
		j := i
		for j > 0 && fields[order[j-1]].Name > name {
			order[j] = order[j-1]
			j--
		}
		order[j] = x
	}
	s.order = order
	if s.perms == nil {
		s.perms = map[sortKey][]int{}
	}
	if len(s.perms) < 4096 {
		s.perms[k] = append(s.perms[k][:0], order...)
	}
	return order
}

// sortedBy reports whether perm lists fields in stable name order.
func sortedBy(fields []privacy.Field, perm []int) bool {
	for i := 1; i < len(perm); i++ {
		a, b := fields[perm[i-1]].Name, fields[perm[i]].Name
		if a > b || a == b && perm[i-1] > perm[i] {
			return false
		}
	}
	return true
}

// appendFields writes a filtered event's fields as an object with sorted
// keys; of fields sharing a name the first is kept.
func appendFields(b []byte, typ string, fields []privacy.Field, s *fieldSorter) []byte {
	o := openObj(b)
	prev := ""
	for n, i := range s.sort(typ, fields) {
		f := &fields[i]
		if n > 0 && f.Name == prev {
			continue
		}
		prev = f.Name
		o.str(f.Name, f.Value)
	}
	return o.close()
}
