// Package jsonstr appends Go strings as JSON string literals, escaped
// exactly as encoding/json escapes them, without its reflection and
// allocations: the agent and the privacy filter write JSON on hot paths.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// Append appends s to dst as a JSON string literal. With escapeHTML, '<',
// '>' and '&' are escaped as encoding/json.Marshal does; without it, the
// output is that of an encoding/json Encoder with SetEscapeHTML(false).
// Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped.
func Append(dst []byte, s string, escapeHTML bool) []byte {
	dst = append(dst, '"')
	// Fast path: most values are printable ASCII needing no escape.
	i := 0
	for i < len(s) && !needsEscape(s[i], escapeHTML) {
		i++
	}
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !needsEscape(c, escapeHTML) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
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

func needsEscape(c byte, escapeHTML bool) bool {
	return c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' ||
		(escapeHTML && (c == '<' || c == '>' || c == '&'))
}
