package selinux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CILFile, PolicyFile and FileContextsFile are the names Build writes in
// its directory.
const (
	CILFile          = "policy.cil"
	FileContextsFile = "file_contexts"
)

// PolicyFile is the binary policy's file name: policy.33.
var PolicyFile = "policy." + strconv.Itoa(PolicyVersion)

// ErrNoSecilc reports that secilc is not installed.
var ErrNoSecilc = errors.New("secilc not found in PATH (Debian package secilc)")

// Violation is one failed neverallow check: an invariant and the allow
// rules that break it.
type Violation struct {
	// Invariant is the invariant's name, from the neverallow's comment.
	Invariant string
	// Neverallow is the failing statement and NeverallowLine its line in
	// the CIL.
	Neverallow     string
	NeverallowLine int
	// Allows are the offending allow statements.
	Allows []ViolatingAllow
}

// ViolatingAllow is an allow statement secilc names in a neverallow
// failure.
type ViolatingAllow struct {
	Line      int
	Statement string
	// Source is the comment above the statement, naming the policy rule
	// (file:line) it was compiled from.
	Source string
}

// SecilcError is a failed secilc run. Violations lists the neverallow
// failures (invariants the compiled policy breaks), if that is why it
// failed.
type SecilcError struct {
	Stderr     string
	Violations []Violation
	Err        error
}

// Error quotes secilc, or names the violated invariants and the policy
// rules that violate them.
func (e *SecilcError) Error() string {
	if len(e.Violations) == 0 {
		msg := strings.TrimSpace(e.Stderr)
		if msg == "" && e.Err != nil {
			msg = e.Err.Error()
		}
		return "secilc: " + msg
	}
	var invs []string
	sources := map[string][]string{}
	for _, v := range e.Violations {
		if _, ok := sources[v.Invariant]; !ok {
			invs = append(invs, v.Invariant)
			sources[v.Invariant] = nil
		}
		for _, a := range v.Allows {
			s := a.describe()
			if !slices.Contains(sources[v.Invariant], s) {
				sources[v.Invariant] = append(sources[v.Invariant], s)
			}
		}
	}
	var b strings.Builder
	b.WriteString("secilc: neverallow check failed: ")
	for i, inv := range invs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "invariant %q is violated by %s", inv, strings.Join(sources[inv], ", "))
	}
	return b.String()
}

var reFrom = regexp.MustCompile(`^from (.+:\d+): (.*)$`)

// describe names the policy rule behind an allow: "allow x {read} on y
// (file.hcl:12)", or the CIL statement when it has no source comment.
func (a ViolatingAllow) describe() string {
	if m := reFrom.FindStringSubmatch(a.Source); m != nil {
		return fmt.Sprintf("%s (%s)", m[2], m[1])
	}
	if a.Source != "" {
		return fmt.Sprintf("%s (%s:%d)", a.Source, CILFile, a.Line)
	}
	return fmt.Sprintf("%s (%s:%d)", a.Statement, CILFile, a.Line)
}

// Unwrap returns the process error.
func (e *SecilcError) Unwrap() error { return e.Err }

// Build compiles cil with secilc into dir: it writes dir/policy.cil and
// runs "secilc -v -c 33 -o policy.33 -f file_contexts policy.cil", returning
// the paths of the binary policy and the file contexts. When secilc
// fails, the error is a *SecilcError quoting it; a failed neverallow check
// is mapped back to the invariant it came from (Compile writes the
// invariant's name next to each neverallow) and to the policy rule behind
// each offending allow.
func Build(ctx context.Context, cil []byte, dir string) (policyFile, fileContexts string, err error) {
	bin, err := exec.LookPath("secilc")
	if err != nil {
		return "", "", ErrNoSecilc
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, CILFile), cil, 0o644); err != nil {
		return "", "", err
	}
	// -v makes secilc list every allow rule behind a neverallow failure,
	// not only the first four.
	cmd := exec.CommandContext(ctx, bin, "-v", "-c", strconv.Itoa(PolicyVersion),
		"-o", PolicyFile, "-f", FileContextsFile, CILFile)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "", "", &SecilcError{Stderr: stderr.String(), Violations: parseViolations(stderr.String(), cil), Err: err}
	}
	return filepath.Join(dir, PolicyFile), filepath.Join(dir, FileContextsFile), nil
}

var (
	reNeverFailed = regexp.MustCompile(`^neverallow check failed at [^:]*:(\d+)`)
	reAllowAt     = regexp.MustCompile(`^\s*allow at [^:]*:(\d+)`)
	reInvComment  = regexp.MustCompile(`; invariant ([^:]+):`)
)

// parseViolations reads secilc's neverallow failures:
//
//	neverallow check failed at policy.cil:1234
//	  (neverallow ...)
//	    <root>
//	    allow at policy.cil:567
//	      (allow ...)
func parseViolations(stderr string, cil []byte) []Violation {
	lines := strings.Split(string(cil), "\n")
	lineAt := func(n int) string {
		if n >= 1 && n <= len(lines) {
			return lines[n-1]
		}
		return ""
	}
	var out []Violation
	for _, l := range strings.Split(stderr, "\n") {
		if m := reNeverFailed.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			text := lineAt(n)
			v := Violation{NeverallowLine: n, Invariant: "(unknown)"}
			stmt, _, _ := strings.Cut(text, ";")
			v.Neverallow = strings.TrimSpace(stmt)
			if im := reInvComment.FindStringSubmatch(text); im != nil {
				v.Invariant = im[1]
			}
			out = append(out, v)
			continue
		}
		if m := reAllowAt.FindStringSubmatch(l); m != nil && len(out) > 0 {
			n, _ := strconv.Atoi(m[1])
			stmt, _, _ := strings.Cut(lineAt(n), ";")
			a := ViolatingAllow{Line: n, Statement: strings.TrimSpace(stmt)}
			for i := n - 1; i >= 1; i-- {
				t := lineAt(i)
				if strings.HasPrefix(t, ";;") {
					a.Source = strings.TrimSpace(strings.TrimPrefix(t, ";;"))
					break
				}
				if !strings.HasPrefix(t, "(allow ") {
					break
				}
			}
			last := &out[len(out)-1]
			last.Allows = append(last.Allows, a)
		}
	}
	return out
}
