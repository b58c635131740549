package systemd

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/gen"
)

// maxExposure is the bar: systemd-analyze security must rate
// every compartment of the examples at this exposure or lower.
const maxExposure = 2.0

// analyzer returns the systemd-analyze binary, skipping the test when it
// is missing or too old for offline analysis (systemd 250).
func analyzer(t *testing.T) string {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	out, err := exec.Command(sa, "--version").Output()
	if err != nil {
		t.Skipf("systemd-analyze --version: %v", err)
	}
	var v int
	if _, err := fmt.Sscanf(string(out), "systemd %d", &v); err != nil || v < 250 {
		t.Skipf("systemd-analyze %q cannot analyse unit files offline (needs systemd 250)", strings.SplitN(string(out), "\n", 2)[0])
	}
	return sa
}

// unitReport is what systemd-analyze says about one unit.
type unitReport struct {
	unit      string
	members   []string
	exposure  float64
	offenders []offender
	// diags are systemd's complaints about the drop-in (unknown keys,
	// unparsable values) from security and verify.
	diags []string
}

type offender struct {
	name, desc            string
	weight, badness, rnge int
}

// contribution is the offender's share of the weighted badness sum.
func (o offender) contribution() int { return (o.badness*o.weight + o.rnge - 1) / o.rnge }

// detailLine is a row of "systemd-analyze security" with
// SYSTEMD_ANALYZE_DEBUG=1: mark, name, description, weight, badness,
// range, exposure.
var detailLine = regexp.MustCompile(`^([✓✗ ])\s*(\S+)\s+(.*?)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+\d+\.\d)?\s*$`)

var overallLine = regexp.MustCompile(`Overall exposure level for (\S+): (\d+\.\d)`)

// analyzeOutput installs a stand-in unit for every drop-in of out
// (ExecStart= is the compartment's executable, created in the root as an
// empty script) under a temporary root, then runs "systemd-analyze
// security --offline=true" and "systemd-analyze verify" on each unit.
func analyzeOutput(t *testing.T, sa string, p *policy.Policy, out *Output) []unitReport {
	t.Helper()
	root := t.TempDir()
	unitDir := filepath.Join(root, "etc", "systemd", "system")
	if err := out.WriteDir(unitDir); err != nil {
		t.Fatal(err)
	}
	var reports []unitReport
	done := make(map[string]bool)
	for _, d := range out.DropIns {
		if done[d.Unit] {
			continue
		}
		done[d.Unit] = true
		exe := "/bin/true"
		if c := p.Compartment(d.Compartment); len(c.Executables) > 0 {
			exe = c.Executables[0]
		}
		stand := filepath.Join(root, exe)
		if err := os.MkdirAll(filepath.Dir(stand), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		unit := fmt.Sprintf("[Unit]\nDescription=stand-in for %s (rampart test)\n\n[Service]\nExecStart=%s\n", d.Unit, exe)
		if err := os.WriteFile(filepath.Join(unitDir, d.Unit), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		name := d.Unit
		if strings.HasSuffix(name, "@.service") {
			name = strings.TrimSuffix(name, "@.service") + "@rampart-test.service"
		}
		rep := unitReport{unit: d.Unit, members: d.Members, exposure: -1}

		cmd := exec.Command(sa, "security", "--offline=true", "--root="+root, "--no-pager", name)
		cmd.Env = append(os.Environ(), "SYSTEMD_ANALYZE_DEBUG=1", "SYSTEMD_COLORS=0", "LC_ALL=C.UTF-8")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: systemd-analyze security: %v\n%s", d.Unit, err, stderr.String())
		}
		rep.diags = append(rep.diags, dropInDiags(stderr.String())...)
		for _, line := range strings.Split(stdout.String(), "\n") {
			if m := overallLine.FindStringSubmatch(line); m != nil && m[1] == name {
				rep.exposure, _ = strconv.ParseFloat(m[2], 64)
			}
			if m := detailLine.FindStringSubmatch(line); m != nil && m[1] == "✗" {
				w, _ := strconv.Atoi(m[4])
				b, _ := strconv.Atoi(m[5])
				r, _ := strconv.Atoi(m[6])
				rep.offenders = append(rep.offenders, offender{m[2], m[3], w, b, r})
			}
		}
		if rep.exposure < 0 {
			t.Fatalf("%s: no overall exposure in systemd-analyze output:\n%s", d.Unit, stdout.String())
		}
		slices.SortStableFunc(rep.offenders, func(a, b offender) int { return cmp.Compare(b.contribution(), a.contribution()) })

		cmd = exec.Command(sa, "verify", "--root="+root, "--recursive-errors=no", "--man=no", name)
		cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0")
		vout, err := cmd.CombinedOutput()
		if err != nil {
			rep.diags = append(rep.diags, fmt.Sprintf("systemd-analyze verify: %v: %s", err, strings.TrimSpace(string(vout))))
		}
		rep.diags = append(rep.diags, dropInDiags(string(vout))...)
		reports = append(reports, rep)
	}
	return reports
}

// dropInDiags returns the lines of systemd's output that complain about a
// drop-in (systemd names the file and line of each bad directive).
func dropInDiags(s string) []string {
	var ds []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, ".d/") && strings.Contains(line, ".conf:") {
			ds = append(ds, strings.TrimSpace(line))
		}
	}
	return ds
}

func (r unitReport) top(n int) string {
	var s []string
	for i, o := range r.offenders {
		if i == n {
			break
		}
		s = append(s, fmt.Sprintf("%s (%s; weight %d, badness %d/%d)", o.name, o.desc, o.weight, o.badness, o.rnge))
	}
	return strings.Join(s, "; ")
}

// TestExamplesExposure is the acceptance test: every compartment
// of both examples is rated at exposure 2.0 or lower by systemd's own
// offline analysis of its unit plus drop-in, and systemd accepts every
// directive of the drop-ins.
func TestExamplesExposure(t *testing.T) {
	sa := analyzer(t)
	for _, ex := range examples {
		p := loadExample(t, ex)
		out := compile(t, p)
		for _, r := range analyzeOutput(t, sa, p, out) {
			t.Logf("%s: %-36s %.1f  %v", ex, r.unit, r.exposure, r.members)
			for _, d := range r.diags {
				t.Errorf("%s: %s: systemd rejects a directive: %s", ex, r.unit, d)
			}
			if r.exposure > maxExposure {
				t.Errorf("%s: compartments %s (unit %s): exposure %.1f > %.1f; top offending settings: %s",
					ex, strings.Join(r.members, ", "), r.unit, r.exposure, maxExposure, r.top(6))
			}
		}
	}
}

// TestDirectivesAccepted runs systemd-analyze over the golden policy and
// generated policies: systemd must accept every directive the compiler
// can produce.
func TestDirectivesAccepted(t *testing.T) {
	sa := analyzer(t)
	tiny, err := policy.Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	ps := []*policy.Policy{tiny}
	for seed := int64(7); seed <= 8; seed++ {
		g, err := gen.Generate(12, 60, seed)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, g)
	}
	for _, p := range ps {
		out, err := Compile(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range analyzeOutput(t, sa, p, out) {
			for _, d := range r.diags {
				t.Errorf("%s: %s: systemd rejects a directive: %s", p.Name, r.unit, d)
			}
		}
	}
}

// TestAnalyzerCatchesTypos is the control for the two tests above: a
// drop-in with a misspelt key and an invalid value must be reported, and
// a weak drop-in must score above the bar.
func TestAnalyzerCatchesTypos(t *testing.T) {
	sa := analyzer(t)
	p, err := policy.Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &out.DropIns[0]
	d.Content += "ProtectSytem=strict\nProtectProc=bogus\n"
	out.DropIns = out.DropIns[:1]
	reps := analyzeOutput(t, sa, p, out)
	if len(reps) != 1 || len(reps[0].diags) < 2 {
		t.Fatalf("typos not reported: %+v", reps)
	}
	for _, want := range []string{"ProtectSytem", "bogus"} {
		if !strings.Contains(strings.Join(reps[0].diags, "\n"), want) {
			t.Errorf("no diagnostic mentions %q: %v", want, reps[0].diags)
		}
	}

	out2, _ := Compile(p, nil)
	out2.DropIns = out2.DropIns[:1]
	out2.DropIns[0].Content = "[Service]\nUser=root\n"
	reps = analyzeOutput(t, sa, p, out2)
	if reps[0].exposure <= maxExposure || len(reps[0].offenders) == 0 {
		t.Errorf("an unhardened root unit scored %.1f with offenders %v", reps[0].exposure, reps[0].offenders)
	}
}
