package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/selinux"
	"github.com/rampart-sec/rampart/policy/systemd"
)

const policyCompileHelp = `
--target selinux writes the policy as CIL: to stdout, or to DIR/policy.cil
and DIR/file_contexts with --out DIR; --build also runs secilc there
(DIR/policy.33), and a failed neverallow check (a violated invariant) exits
1. --target systemd writes one hardening drop-in per compartment's unit:
to stdout, or under DIR (<unit>.d/50-rampart.conf) with --out DIR. What a
backend cannot express is reported on stderr (or in the JSON).`

func policyCompile(fs *flag.FlagSet) func(*ctx, []string) error {
	target := fs.String("target", "", "`TARGET`: selinux or systemd (required)")
	out := fs.String("out", "", "write the output into directory `DIR` instead of stdout")
	build := fs.Bool("build", false, "selinux: also compile the CIL with secilc into --out")
	var permissive pathsFlag
	fs.Var(&permissive, "permissive", "selinux: compartments or roles compiled permissive (`NAMES`; learning only; repeat or comma-separate)")
	handleUnknown := fs.String("handle-unknown", "", "selinux: handleunknown `MODE`, deny (default) or allow")
	return func(c *ctx, args []string) error {
		if len(args) == 0 {
			return usagef("name the policy: a directory of .hcl files or files")
		}
		if *build && (*target != "selinux" || *out == "") {
			return usagef("--build needs --target selinux and --out DIR")
		}
		switch *target {
		case "selinux", "systemd":
		case "":
			return usagef("--target is required: selinux or systemd")
		default:
			return usagef("unknown --target %q: selinux or systemd", *target)
		}
		p, err := policy.Load(args...)
		if err != nil {
			return c.reportDiagnostics(err)
		}
		if *target == "selinux" {
			return compileSELinux(c, p, *out, *build, &selinux.Options{HandleUnknown: *handleUnknown, Permissive: permissive})
		}
		return compileSystemd(c, p, *out)
	}
}

func compileSELinux(c *ctx, p *policy.Policy, out string, build bool, opts *selinux.Options) error {
	o, err := selinux.Compile(p, opts)
	if err != nil {
		return c.reportDiagnostics(err)
	}
	var gaps []string
	for _, g := range o.NotExpressible {
		gaps = append(gaps, g.String())
	}
	res := struct {
		Target       string   `json:"target"`
		CIL          string   `json:"cil,omitempty"`
		FileContexts string   `json:"file_contexts,omitempty"`
		PolicyFile   string   `json:"policy_file,omitempty"`
		Warnings     []string `json:"warnings"`
		Gaps         []string `json:"not_expressible"`
	}{Target: "selinux", Warnings: o.Warnings, Gaps: gaps}
	var buildErr error
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		res.CIL = filepath.Join(out, selinux.CILFile)
		res.FileContexts = filepath.Join(out, "file_contexts")
		if build {
			res.PolicyFile, res.FileContexts, buildErr = selinux.Build(context.Background(), o.CIL, out)
		} else {
			if err := os.WriteFile(res.CIL, o.CIL, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(res.FileContexts, o.FileContexts, 0o644); err != nil {
				return err
			}
		}
	}
	if c.json {
		if err := c.writeJSON(res); err != nil {
			return err
		}
	} else {
		if out == "" {
			if _, err := c.stdout.Write(o.CIL); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(c.stdout, "wrote %s\n", res.CIL)
			if res.PolicyFile != "" {
				fmt.Fprintf(c.stdout, "wrote %s and %s\n", res.PolicyFile, res.FileContexts)
			}
		}
		for _, w := range o.Warnings {
			fmt.Fprintf(c.stderr, "warning: %s\n", w)
		}
		for _, g := range gaps {
			fmt.Fprintf(c.stderr, "not expressible in SELinux: %s\n", g)
		}
	}
	var se *selinux.SecilcError
	switch {
	case buildErr == nil:
		return nil
	case errors.As(buildErr, &se) && len(se.Violations) > 0:
		return &failure{msg: strings.TrimSpace(buildErr.Error())}
	}
	return buildErr
}

func compileSystemd(c *ctx, p *policy.Policy, out string) error {
	o, err := systemd.Compile(p, &systemd.Options{})
	if err != nil {
		return c.reportDiagnostics(err)
	}
	if out != "" {
		if err := o.WriteDir(out); err != nil {
			return err
		}
	}
	var warnings []string
	for _, w := range o.Warnings {
		warnings = append(warnings, w.String())
	}
	if c.json {
		type dropIn struct {
			Compartment string   `json:"compartment"`
			Unit        string   `json:"unit"`
			Path        string   `json:"path"`
			Members     []string `json:"members"`
			Content     string   `json:"content"`
		}
		res := struct {
			Target   string   `json:"target"`
			Out      string   `json:"out,omitempty"`
			DropIns  []dropIn `json:"drop_ins"`
			Warnings []string `json:"warnings"`
		}{Target: "systemd", Out: out, Warnings: warnings}
		for _, d := range o.DropIns {
			res.DropIns = append(res.DropIns, dropIn{d.Compartment, d.Unit, d.Path, d.Members, d.Content})
		}
		return c.writeJSON(res)
	}
	seen := map[string]bool{}
	for _, d := range o.DropIns {
		if seen[d.Path] {
			continue
		}
		seen[d.Path] = true
		if out != "" {
			fmt.Fprintf(c.stdout, "wrote %s\n", filepath.Join(out, d.Path))
			continue
		}
		fmt.Fprintf(c.stdout, "# %s\n%s\n", d.Path, d.Content)
	}
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	return nil
}
