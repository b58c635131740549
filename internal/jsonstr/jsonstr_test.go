package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

func encode(t testing.TB, s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func check(t testing.TB, s string) {
	for _, html := range []bool{false, true} {
		if got, want := string(Append(nil, s, html)), encode(t, s, html); got != want {
			t.Fatalf("Append(%q, html=%v) = %s, encoding/json gives %s", s, html, got, want)
		}
	}
}

func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\b\f\n\r\t\x00\x1f\x7f", "<a href='x'>&amp;</a>",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x82", "/home/alice/.ssh"} {
		check(t, s)
	}
}

func FuzzMatchesEncodingJSON(f *testing.F) {
	f.Add("a<b>\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}
