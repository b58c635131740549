// Package detect runs custom detection rules, written as CEL expressions
// (github.com/google/cel-go), over the agent's events.
//
// A rule is a file NAME.cel holding one boolean CEL expression over the
// variable event (type detect.Event, see Event for the schema), preceded
// by header comments:
//
//	// severity: high
//	// description: A shell was started by a process of a network-facing
//	//   compartment.
//	// tags: execution, T1059
//	event.syscall in ["execve", "execveat"] &&
//	  basename(event.proc.exe) in ["sh", "bash", "dash", "zsh"] &&
//	  [event.prev, event.parent].exists(p, p.subject.tier == "network-facing")
//
// The rule's name is the file name without ".cel". Header keys: severity
// (low, medium, high or critical; default medium), description (a
// continuation line starts with "//" and two or more spaces), tags
// (comma-separated) and enabled (true or false). The whole file is the
// CEL source (comments are CEL comments), so positions in errors are
// positions in the file: rules are type-checked when loaded and every
// problem is reported as file:line:column.
//
// Besides CEL's standard library the environment has the strings, sets
// and bindings (cel.bind) extensions and three path functions:
// basename(path), dirname(path) and in_dir(path, dir) (path is dir or
// below it).
package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// Ext is the file name extension of rule files.
const Ext = ".cel"

// Severities returns the valid severities, lowest first.
func Severities() []string { return []string{"low", "medium", "high", "critical"} }

// Rule is one compiled detection rule.
type Rule struct {
	// Name is the file name without ".cel".
	Name string
	// Severity is low, medium, high or critical.
	Severity string
	// Description says what a match means.
	Description string
	// Tags are free-form labels (ATT&CK ids, categories).
	Tags []string
	// File is where the rule was read from.
	File string
	// Source is the CEL expression (the whole file).
	Source string

	prog cel.Program
	gate gate
}

// Diagnostic is one problem in a rule file.
type Diagnostic struct {
	File      string
	Line, Col int
	Message   string
}

// String formats d as "file:line:col: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
}

// Error lists every problem found while loading rules.
type Error struct {
	Diagnostics []Diagnostic
}

// Error formats the diagnostics one per line.
func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Env is the CEL environment rules are compiled in. It is safe for
// concurrent use.
type Env struct {
	env *cel.Env
}

// NewEnv returns the environment: the variable event of type
// detect.Event, the standard library, the strings, sets and bindings
// extensions and the path functions.
func NewEnv() (*Env, error) {
	str := func(f func(string) string) cel.OverloadOpt {
		return cel.UnaryBinding(func(v ref.Val) ref.Val {
			s, ok := v.(types.String)
			if !ok {
				return types.NoSuchOverloadErr()
			}
			return types.String(f(string(s)))
		})
	}
	env, err := cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[Event]()),
		cel.Variable("event", cel.ObjectType("detect.Event")),
		ext.Strings(),
		ext.Sets(),
		ext.Bindings(),
		cel.Function("basename",
			cel.Overload("basename_string", []*cel.Type{cel.StringType}, cel.StringType, str(path.Base))),
		cel.Function("dirname",
			cel.Overload("dirname_string", []*cel.Type{cel.StringType}, cel.StringType, str(path.Dir))),
		cel.Function("in_dir",
			cel.Overload("in_dir_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					p, ok1 := a.(types.String)
					d, ok2 := b.(types.String)
					if !ok1 || !ok2 {
						return types.NoSuchOverloadErr()
					}
					return types.Bool(inDir(string(p), string(d)))
				}))),
	)
	if err != nil {
		return nil, err
	}
	return &Env{env: env}, nil
}

// inDir reports whether p is d or below it.
func inDir(p, d string) bool {
	d = strings.TrimRight(d, "/")
	if d == "" {
		return strings.HasPrefix(p, "/")
	}
	return p == d || strings.HasPrefix(p, d+"/")
}

// Compile compiles one rule. file names it in diagnostics and in the
// rule; the name is file's base name without ".cel". Errors are *Error.
func (e *Env) Compile(file, src string) (*Rule, error) {
	name := strings.TrimSuffix(filepath.Base(file), Ext)
	r := &Rule{Name: name, Severity: "medium", File: file, Source: src}
	var diags []Diagnostic
	bad := func(line, col int, format string, a ...any) {
		diags = append(diags, Diagnostic{file, line, col, fmt.Sprintf(format, a...)})
	}
	if !validName(name) {
		bad(1, 1, "rule name %q (the file name) must be 1-64 characters of a-z, 0-9, '_' and '-'", name)
	}
	enabled, err := r.parseHeader(src, bad)
	if err != nil {
		return nil, err
	}
	ast, iss := e.env.CompileSource(common.NewStringSource(src, file))
	if iss != nil && iss.Err() != nil {
		for _, er := range iss.Errors() {
			line, col := er.Location.Line(), er.Location.Column()+1
			if line < 1 {
				line, col = 1, 1
			}
			bad(line, col, "%s", er.Message)
		}
		return nil, &Error{diags}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		line, col := firstCodeLine(src)
		bad(line, col, "a rule must be a boolean expression; this one is %s", t)
	}
	if len(diags) > 0 {
		return nil, &Error{diags}
	}
	if !enabled {
		return nil, nil
	}
	r.prog, err = e.env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &Error{[]Diagnostic{{file, 1, 1, err.Error()}}}
	}
	r.gate = gateOf(ast.NativeRep().Expr())
	return r, nil
}

// parseHeader reads the leading "// key: value" comments.
func (r *Rule) parseHeader(src string, bad func(line, col int, format string, a ...any)) (enabled bool, err error) {
	enabled = true
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	last := ""
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			last = ""
			continue
		}
		if !strings.HasPrefix(line, "//") {
			break
		}
		text := strings.TrimPrefix(line, "//")
		if strings.HasPrefix(text, "  ") && last == "description" {
			r.Description += " " + strings.TrimSpace(text)
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(text), ":")
		if !ok || strings.ContainsAny(key, " \t") {
			last = ""
			continue // a plain comment
		}
		key, val = strings.ToLower(key), strings.TrimSpace(val)
		last = key
		col := strings.Index(sc.Text(), key) + 1
		switch key {
		case "severity":
			if !slices.Contains(Severities(), val) {
				bad(n, col, "severity %q is not one of %s", val, strings.Join(Severities(), ", "))
			}
			r.Severity = val
		case "description":
			r.Description = val
		case "tags":
			for t := range strings.SplitSeq(val, ",") {
				if t = strings.TrimSpace(t); t != "" {
					r.Tags = append(r.Tags, t)
				}
			}
		case "enabled":
			switch val {
			case "true":
			case "false":
				enabled = false
			default:
				bad(n, col, "enabled must be true or false, not %q", val)
			}
		default:
			bad(n, col, "unknown header key %q (severity, description, tags, enabled)", key)
		}
	}
	return enabled, sc.Err()
}

// firstCodeLine returns the position of the first line that is neither
// blank nor a comment.
func firstCodeLine(src string) (int, int) {
	for i, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "//") {
			return i + 1, len(l) - len(strings.TrimLeft(l, " \t")) + 1
		}
	}
	return 1, 1
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Rules is a set of compiled rules.
type Rules struct {
	list []*Rule
}

// Load compiles the rules in paths: files, or directories whose *.cel
// files are read (not recursively, in name order). Every problem in every
// file is reported (an *Error); two rules with the same name are an error.
// Rules whose header says enabled: false are skipped.
func (e *Env) Load(paths ...string) (*Rules, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*"+Ext))
		if err != nil {
			return nil, err
		}
		slices.Sort(m)
		files = append(files, m...)
	}
	srcs := make([]source, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{f, string(b)})
	}
	return e.compileAll(srcs)
}

// LoadFS compiles the *.cel files in directory dir of fsys (in name
// order), for rules embedded in the program.
func (e *Env) LoadFS(fsys fs.FS, dir string) (*Rules, error) {
	m, err := fs.Glob(fsys, path.Join(dir, "*"+Ext))
	if err != nil {
		return nil, err
	}
	slices.Sort(m)
	srcs := make([]source, 0, len(m))
	for _, f := range m {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{f, string(b)})
	}
	return e.compileAll(srcs)
}

type source struct{ file, text string }

func (e *Env) compileAll(srcs []source) (*Rules, error) {
	var diags []Diagnostic
	rs := &Rules{}
	seen := map[string]string{}
	for _, s := range srcs {
		r, err := e.Compile(s.file, s.text)
		var de *Error
		switch {
		case errors.As(err, &de):
			diags = append(diags, de.Diagnostics...)
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", s.file, err)
		case r == nil:
			continue // disabled
		}
		if prev, dup := seen[r.Name]; dup {
			diags = append(diags, Diagnostic{s.file, 1, 1, fmt.Sprintf("rule %q is also defined in %s", r.Name, prev)})
			continue
		}
		seen[r.Name] = s.file
		rs.list = append(rs.list, r)
	}
	if len(diags) > 0 {
		return nil, &Error{diags}
	}
	return rs, nil
}

// Merge returns the rules of rs followed by those of others; a name
// defined twice is an error.
func (rs *Rules) Merge(others ...*Rules) (*Rules, error) {
	out := &Rules{}
	seen := map[string]string{}
	var diags []Diagnostic
	for _, set := range append([]*Rules{rs}, others...) {
		if set == nil {
			continue
		}
		for _, r := range set.list {
			if prev, dup := seen[r.Name]; dup {
				diags = append(diags, Diagnostic{r.File, 1, 1, fmt.Sprintf("rule %q is also defined in %s", r.Name, prev)})
				continue
			}
			seen[r.Name] = r.File
			out.list = append(out.list, r)
		}
	}
	if len(diags) > 0 {
		return nil, &Error{diags}
	}
	return out, nil
}

// List returns the rules in load order.
func (rs *Rules) List() []*Rule {
	if rs == nil {
		return nil
	}
	return slices.Clone(rs.list)
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.list)
}

// activation binds the variable event.
type activation struct{ ev *Event }

func (a activation) ResolveName(name string) (any, bool) {
	if name == "event" {
		return a.ev, true
	}
	return nil, false
}

func (activation) Parent() interpreter.Activation { return nil }

// Match evaluates the rule on ev. An evaluation error (a rule indexing
// past a list's end, exceeding the cost limit…) is returned and the rule
// does not match.
func (r *Rule) Match(ev *Event) (bool, error) {
	if !r.gate.admits(ev) {
		return false, nil
	}
	out, _, err := r.prog.Eval(activation{ev})
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("rule %s: result is %s, not bool", r.Name, out.Type())
	}
	return bool(b), nil
}

// Eval evaluates every rule on ev and calls match for each rule that
// matches and fail for each that fails. It is safe for concurrent use.
func (rs *Rules) Eval(ev *Event, match func(*Rule), fail func(*Rule, error)) {
	if rs == nil {
		return
	}
	for _, r := range rs.list {
		ok, err := r.Match(ev)
		switch {
		case err != nil:
			if fail != nil {
				fail(r, err)
			}
		case ok:
			match(r)
		}
	}
}
