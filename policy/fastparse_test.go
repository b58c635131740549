package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fastSamples are inputs the fast parser must accept (and match).
var fastSamples = []string{
	"",
	"\n\n",
	"# only a comment\n",
	"# no newline",
	"/* block */ resource \"a\" {\n}\n",
	"resource \"a\" {\n  kind = \"file\" # trailing\n  paths = [\"/a\", \"/b\",]\n}\n",
	"policy {}\n",
	"policy {\n}",
	"a \"b\" c {\n  x = 1\n  y = true\n  z = null\n  w = false\n  v = name\n  u = []\n  t = \"\"\n}\n",
	"deny_access \"x\" {\n  subjects = all_except([\"a\", \"b\"])\n  objects  = [labelled(\"secret\"), network(), \"c\"]\n  verbs = [\n    \"read\", // comment\n    /* c */ \"write\"\n  ]\n}\n",
	"compartment \"c\" {\n  limits {\n    nofile = 1024\n  }\n  allow {\n    verbs = [\"read\"]\n    on = [\"r\"]\n  }\n}\n",
	"  \t resource \"a\" {\n}\n   ",
	"x = f(\n  1,\n  2,\n)\n",
	"x = f ( )\n",
	"x = \"$ % $$ %% { }\"\n",
}

// fastRejects are inputs it must leave to hclsyntax.
var fastRejects = []string{
	"a = \"${x}\"\n", "a = \"\\n\"\n", "a = 1.5\n", "a = -1\n", "a = x.y\n", "a = [for x in y: x]\n",
	"a { b = 1 }\n", "a = 1\na = 2\n", "a = <<EOT\nx\nEOT\n", "a = 1 + 2\n", "a = \"é\"\n", "a = 1\r\n",
	"a = {}\n", "a = (1)\n", "a = f(x...)\n", "a = x[0]\n", "resource \"a\" {\n", "}\n", "a = 1 /* c */\n",
	"a == 1\n", "a = \"x\" \"y\"\n", "a = [\"x\" \"y\"]\n", "a = 1 b = 2\n", "a = ns::f()\n", "a = 1e3\n",
}

func TestFastParse(t *testing.T) {
	for _, s := range fastSamples {
		if !compareFast(t, []byte(s)) {
			t.Errorf("fast parser rejected %q", s)
		}
	}
	for _, s := range fastRejects {
		if _, ok := fastParse([]byte(s), "x.hcl", hcl.InitialPos); ok {
			t.Errorf("fast parser accepted %q", s)
		}
	}
	// Every example file that is plain ASCII is accepted.
	files, _ := filepath.Glob("testdata/broken/*.hcl")
	accepted := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if compareFast(t, b) {
			accepted++
		}
	}
	if accepted < len(files)/2 {
		t.Errorf("fast parser accepted only %d of %d broken variants", accepted, len(files))
	}
}

// compareFast parses src both ways; when the fast parser accepts it, the
// trees must be deeply equal and hclsyntax must report nothing. It also
// checks a start position other than the file's beginning.
func compareFast(t *testing.T, src []byte) bool {
	t.Helper()
	accepted := false
	for _, start := range []hcl.Pos{hcl.InitialPos, {Line: 7, Column: 1, Byte: 123}} {
		fast, ok := fastParse(src, "x.hcl", start)
		if !ok {
			continue
		}
		accepted = true
		f, diags := hclsyntax.ParseConfig(src, "x.hcl", start)
		if len(diags) > 0 {
			t.Fatalf("fast parser accepted %q, which hclsyntax diagnoses: %v", src, diags)
		}
		if want := f.Body.(*hclsyntax.Body); !reflect.DeepEqual(fast, want) {
			t.Fatalf("trees differ for %q (start %v): %s", src, start, firstDiff(reflect.ValueOf(fast), reflect.ValueOf(want), "body"))
		}
	}
	return accepted
}

// firstDiff returns the path and values of the first difference between
// two values of the same type ("" when deeply equal).
func firstDiff(a, b reflect.Value, path string) string {
	if a.Kind() != b.Kind() {
		return fmt.Sprintf("%s: kind %s vs %s", path, a.Kind(), b.Kind())
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil %v vs %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		if a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			return fmt.Sprintf("%s: type %s vs %s", path, a.Elem().Type(), b.Elem().Type())
		}
		return firstDiff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				if !reflect.DeepEqual(a.Field(i).Interface, nil) && a.Type().PkgPath() == "github.com/zclconf/go-cty/cty" {
					continue
				}
				continue
			}
			if d := firstDiff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
		if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Sprintf("%s: %#v vs %#v", path, a.Interface(), b.Interface())
		}
		return ""
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: nil slice %v vs %v", path, a.IsNil(), b.IsNil())
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: len %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if d := firstDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: map len %d vs %d", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			if !b.MapIndex(k).IsValid() {
				return fmt.Sprintf("%s: key %v missing", path, k)
			}
			if d := firstDiff(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); d != "" {
				return d
			}
		}
		return ""
	}
	if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %#v vs %#v", path, a.Interface(), b.Interface())
	}
	return ""
}

// FuzzFastParse: whenever the fast parser accepts an input, hclsyntax
// parses it without diagnostics into a deeply equal tree.
func FuzzFastParse(f *testing.F) {
	for _, s := range append(append([]string(nil), fastSamples...), fastRejects...) {
		f.Add([]byte(s))
	}
	for _, pattern := range []string{"../examples/*/*.hcl", "testdata/bad/*.hcl", "testdata/broken/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		compareFast(t, src)
	})
}
