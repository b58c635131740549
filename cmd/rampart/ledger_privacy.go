package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/privacy"
)

// ledgerPrivacyVerbs are the ledger verbs that check and undo the privacy
// filter: lint and reveal.
func ledgerPrivacyVerbs() []*verb {
	return []*verb{
		{name: "lint", args: "DIR", summary: "fail if any entry holds a value that looks raw (addresses, e-mail, home directories, keys, listed values)", setup: ledgerLint, help: ledgerLintHelp},
		{name: "reveal", args: "[TOKEN...]", summary: "re-identify pseudonyms and Crypto-PAn addresses, with the privacy keyring", setup: ledgerReveal, help: ledgerRevealHelp},
	}
}

const ledgerLintHelp = `
Every entry is checked as JSON, value by value: IPv4 and IPv6 addresses
(outside pan: and trunc: markers), e-mail addresses, /home/<name> and /root
paths, /run/user/<uid>, mail and cron spools, PEM private keys, SSH keys,
JWTs, long hex and base64 secrets outside digest fields, identifier fields
(uid, auid, acct, hostname, addr, node…) holding anything but a pseudonym,
and every value given with --value or --values (the node's user and host
names, say). Findings show only the first characters of what they found.
Exit status 1 when there is any finding.`

const ledgerRevealHelp = `
A pseudonym (ps:<key>:<kind>:<mac>) is re-identified from the escrow
(--escrow) or by testing candidate values (--candidate, --candidates FILE,
--local: this node's user and group names, ids and host name); a
Crypto-PAn address (pan:<key>:<address>) is inverted. Both need the key
that made them, in the keyring; without it nothing can be revealed.
With --ledger DIR --entry N, every token of entry N is revealed.`

func ledgerLint(fs *flag.FlagSet) func(*ctx, []string) error {
	var values, valueFiles, idFields, ignore listFlag
	fs.Var(&values, "value", "a raw value that must not appear (repeatable)")
	fs.Var(&valueFiles, "values", "file of raw values, one per line (repeatable)")
	fs.Var(&idFields, "identifier-field", "field that must hold pseudonyms (repeatable; default: audit's identifier fields)")
	fs.Var(&ignore, "ignore-field", "field not to check (repeatable)")
	maxFindings := fs.Int("max", 1000, "stop after this many findings")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		vals := slices.Clone([]string(values))
		for _, f := range valueFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					vals = append(vals, l)
				}
			}
		}
		opts := privacy.LintOptions{Values: vals, IgnoreFields: ignore}
		if len(idFields) > 0 {
			opts.IdentifierFields = idFields
		}
		lint := privacy.NewLinter(opts)
		if _, err := os.Stat(args[0]); err != nil {
			return err
		}
		r, err := ledger.NewReader(args[0], 0)
		if err != nil {
			return err
		}
		defer r.Close()
		type finding struct {
			Entry   uint64 `json:"entry"`
			Path    string `json:"path,omitempty"`
			Class   string `json:"class"`
			Excerpt string `json:"excerpt"`
		}
		var out []finding
		entries := uint64(0)
		truncated := false
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			entries++
			for _, f := range lint.Check(int(e.Seq)+1, e.Data) {
				out = append(out, finding{e.Seq, f.Path, string(f.Class), f.Excerpt})
			}
			if len(out) >= *maxFindings {
				truncated = true
				break
			}
		}
		if c.json {
			if err := c.writeJSON(map[string]any{"entries": entries, "findings": out, "truncated": truncated, "ok": len(out) == 0}); err != nil {
				return err
			}
		} else {
			for _, f := range out {
				p := f.Path
				if p == "" {
					p = "-"
				}
				fmt.Fprintf(c.stdout, "entry %d: %s: %s %s\n", f.Entry, p, f.Class, f.Excerpt)
			}
			if len(out) == 0 {
				fmt.Fprintf(c.stdout, "OK: %d entries, no raw identifier found.\n", entries)
			} else {
				more := ""
				if truncated {
					more = " (stopped; there may be more)"
				}
				fmt.Fprintf(c.stdout, "%d findings in %d entries%s.\n", len(out), entries, more)
			}
		}
		if len(out) > 0 {
			return &failure{}
		}
		return nil
	}
}

// tokenRE matches pseudonyms and Crypto-PAn addresses in an entry.
func tokenRE() *regexp.Regexp {
	return regexp.MustCompile(`ps:[a-z0-9-]{1,16}:[a-z]+:[a-z2-7]{26}|pan:[a-z0-9-]{1,16}:[0-9A-Fa-f.:]*[0-9A-Fa-f]`)
}

func ledgerReveal(fs *flag.FlagSet) func(*ctx, []string) error {
	keyring := fs.String("keyring", "", "privacy keyring file (required)")
	var escrows, cands, candFiles listFlag
	fs.Var(&escrows, "escrow", "escrow file (repeatable)")
	fs.Var(&cands, "candidate", "candidate raw value to test pseudonyms against (repeatable)")
	fs.Var(&candFiles, "candidates", "file of candidate values, one per line (repeatable)")
	local := fs.Bool("local", false, "test this node's user and group names, ids and host name")
	ledgerDir := fs.String("ledger", "", "with --entry: the ledger to read the entry from")
	entry := fs.Int64("entry", -1, "reveal every token of this ledger entry")
	return func(c *ctx, args []string) error {
		if *keyring == "" {
			return usagef("--keyring (the privacy keyring) is required")
		}
		tokens := slices.Clone(args)
		if *entry >= 0 {
			if *ledgerDir == "" {
				return usagef("--entry needs --ledger DIR")
			}
			r, err := ledger.NewReader(*ledgerDir, uint64(*entry))
			if err != nil {
				return err
			}
			e, err := r.Next()
			r.Close()
			if err != nil || e.Seq != uint64(*entry) {
				return fmt.Errorf("ledger %s has no entry %d", *ledgerDir, *entry)
			}
			found := tokenRE().FindAllString(string(e.Data), -1)
			slices.Sort(found)
			tokens = append(tokens, slices.Compact(found)...)
		}
		if len(tokens) == 0 {
			if *entry >= 0 {
				fmt.Fprintf(c.stdout, "Entry %d holds no pseudonym or anonymised address.\n", *entry)
				return nil
			}
			return usagef("nothing to reveal: give TOKENs or --ledger DIR --entry N")
		}
		kr, err := privacy.LoadKeyring(*keyring)
		if err != nil {
			return err
		}
		rv := privacy.NewRevealer(kr)
		for _, e := range escrows {
			f, err := os.Open(e)
			if err != nil {
				return err
			}
			err = rv.LoadEscrow(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
		}
		rv.AddCandidates(cands...)
		for _, cf := range candFiles {
			f, err := os.Open(cf)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					rv.AddCandidates(l)
				}
			}
			f.Close()
			if err := sc.Err(); err != nil {
				return err
			}
		}
		if *local {
			lc, err := privacy.LocalCandidates()
			if err != nil {
				return err
			}
			rv.AddCandidates(lc...)
		}
		type result struct {
			Token string `json:"token"`
			Value string `json:"value,omitempty"`
			Error string `json:"error,omitempty"`
		}
		var out []result
		failed := 0
		for _, t := range tokens {
			v, err := rv.Reveal(t)
			r := result{Token: t, Value: v}
			if err != nil {
				failed++
				r.Error = err.Error()
				if errors.Is(err, privacy.ErrUnknownKey) {
					r.Error = "the key that made it is not in the keyring"
				} else if errors.Is(err, privacy.ErrNotRevealed) {
					r.Error = "not in the escrow, and no candidate matches"
				}
			}
			out = append(out, r)
		}
		if c.json {
			if err := c.writeJSON(out); err != nil {
				return err
			}
		} else {
			for _, r := range out {
				if r.Error != "" {
					fmt.Fprintf(c.stdout, "%s\t? (%s)\n", r.Token, r.Error)
				} else {
					fmt.Fprintf(c.stdout, "%s\t%s\n", r.Token, strconv.Quote(r.Value))
				}
			}
		}
		if failed > 0 {
			return &failure{msg: fmt.Sprintf("%d of %d tokens not revealed", failed, len(out))}
		}
		return nil
	}
}
