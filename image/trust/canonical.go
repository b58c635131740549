package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Canonical returns the canonical JSON encoding of v: the value as
// encoding/json marshals it, re-encoded with object keys sorted by their
// bytes, no insignificant white space, no HTML escaping, and numbers that
// must be integers written in decimal. Floating-point numbers are refused,
// so that every signer and verifier produces the same bytes.
func Canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	x, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := encodeCanonical(&buf, x); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CheckCanonical reports whether b is exactly the canonical encoding of
// the JSON value it holds. It rejects white space, unsorted or duplicate
// keys, floating-point numbers and anything after the value.
func CheckCanonical(b []byte) error {
	x, err := decodeJSON(b)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := encodeCanonical(&buf, x); err != nil {
		return err
	}
	if c := buf.Bytes(); !bytes.Equal(c, b) {
		i := 0
		for i < len(c) && i < len(b) && c[i] == b[i] {
			i++
		}
		return fmt.Errorf("not canonical JSON: differs from its canonical form at byte %d (white space, key order or a duplicate key)", i)
	}
	return nil
}

// decodeJSON parses exactly one JSON value, keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return x, nil
}

func encodeCanonical(buf *bytes.Buffer, x any) error {
	switch v := x.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case json.Number:
		if !isInteger(string(v)) {
			return fmt.Errorf("number %s is not an integer: canonical JSON has no floating point", v)
		}
		buf.WriteString(string(v))
	case string:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode appends a newline
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeCanonical(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeCanonical(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", x)
	}
	return nil
}

// isInteger reports whether s is a JSON integer without sign noise:
// 0 or -?[1-9][0-9]*.
func isInteger(s string) bool {
	if s == "0" {
		return true
	}
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
