package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-sec/rampart/ledger"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func ledgerGroup() *group {
	return &group{
		name:    "ledger",
		summary: "tamper-evident append-only ledger with signed checkpoints (C2SP tlog-checkpoint, tlog-proof)",
		verbs: append([]*verb{
			{name: "init", args: "DIR", summary: "create a ledger and its signing key (kept outside DIR)", setup: ledgerInit, help: ledgerInitHelp},
			{name: "append", args: "DIR [ENTRY...]", summary: "append entries (arguments, or stdin lines) and sign a checkpoint", setup: ledgerAppend},
			{name: "checkpoint", args: "DIR", summary: "sign a checkpoint now and print it (to ship off the node)", setup: ledgerCheckpoint},
			{name: "verify", args: "DIR", summary: "recompute the tree, check every checkpoint and name the first tampered entry", setup: ledgerVerify, help: ledgerVerifyHelp},
			{name: "prove", args: "DIR N | --check PROOF", summary: "write (or check) a tlog-proof that entry N is in the latest checkpoint", setup: ledgerProve},
			{name: "consistency", args: "DIR OLD NEW | --check PROOF --old OLD", summary: "prove (or check) that checkpoint NEW extends OLD", setup: ledgerConsistency, help: ledgerConsistencyHelp},
			{name: "export", args: "DIR", summary: "print entries as JSON lines with sequence numbers", setup: ledgerExport},
			{name: "tail", args: "DIR", summary: "print the last entries, and follow new ones with -f", setup: ledgerTail},
		}, ledgerPrivacyVerbs()...),
	}
}

const ledgerInitHelp = `
Without an existing --key file, a new Ed25519 note key pair named after
the origin is generated: the private key goes to --key (mode 0600), the
public verifier key to --pub. Keep the private key on the writer only, and
give the public key to whoever verifies. The key must not live in DIR: a
verifier trusts the key, never the ledger's files.`

const ledgerVerifyHelp = `
Checkpoints signed on the node prove nothing against someone who holds the
node's key (root can read it). Copy checkpoints off the node (the output
of "rampart ledger checkpoint DIR" to a collector or witness) and pass them
back with --checkpoint: a rewrite, truncation or fork is then detected.

Exit status 1 means tampering or damage was found; the first problem is the
first entry that differs, with its kind: modified, deleted, inserted,
reordered, truncated or forked.`

const ledgerConsistencyHelp = `
OLD and NEW are checkpoint files (for example kept by a witness), tree sizes
of checkpoints recorded in the ledger, or "latest". The proof written with
--out is the body of a C2SP tlog-witness add-checkpoint request: "old SIZE",
the proof hashes, an empty line, the NEW checkpoint. Check one without the
ledger with: consistency --check PROOF --old OLD --key PUB.`

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func ledgerInit(fs *flag.FlagSet) func(*ctx, []string) error {
	origin := fs.String("origin", "", "origin (log name), e.g. node-7.example.net/audit; default: the name of an existing --key")
	keyPath := fs.String("key", "", "private signing key file: used if it exists, else generated (required)")
	pubPath := fs.String("pub", "", "where to write the public verifier key (default: KEY.pub)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		dir := args[0]
		if *keyPath == "" {
			return usagef("--key is required: where the private signing key is (or goes), outside DIR")
		}
		if inside(dir, *keyPath) {
			return usagef("--key %s is inside the ledger directory: keep the signing key elsewhere", *keyPath)
		}
		if *pubPath == "" {
			*pubPath = *keyPath + ".pub"
		}
		// Refuse before making a key that nothing would use.
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			return usagef("%s: directory is not empty", dir)
		}
		var signer note.Signer
		var vkey string
		generated := false
		if b, err := os.ReadFile(*keyPath); err == nil {
			if signer, err = ledger.LoadSigner(*keyPath); err != nil {
				return err
			}
			if *origin != "" && *origin != signer.Name() {
				return usagef("--origin %q, but the key in %s is named %q", *origin, *keyPath, signer.Name())
			}
			*origin = signer.Name()
			if vkey, err = ledger.VerifierKey(strings.TrimSpace(string(b))); err != nil {
				return err
			}
		} else if errors.Is(err, os.ErrNotExist) {
			if *origin == "" {
				return usagef("--origin is required to generate a key")
			}
			skey, vk, err := ledger.GenerateKey(*origin)
			if err != nil {
				return usagef("%v", err)
			}
			if signer, err = note.NewSigner(skey); err != nil {
				return err
			}
			vkey, generated = vk, true
			if err := writeNew(*keyPath, skey+"\n", 0o600); err != nil {
				return err
			}
		} else {
			return err
		}
		if generated || !exists(*pubPath) {
			if err := os.WriteFile(*pubPath, []byte(vkey+"\n"), 0o644); err != nil {
				return err
			}
		}
		l, err := ledger.Create(dir, *origin, signer, nil)
		if err != nil {
			return err
		}
		cp := l.Latest()
		if err := l.Close(); err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"dir": dir, "origin": *origin, "key": *keyPath, "key_generated": generated,
				"public_key_file": *pubPath, "verifier_key": vkey, "checkpoint": string(cp.Note)})
		}
		verb := "Using"
		if generated {
			verb = "Generated"
		}
		fmt.Fprintf(c.stdout, "Created ledger %s for origin %s.\n", dir, *origin)
		fmt.Fprintf(c.stdout, "%s signing key %s: keep it on the writer only, outside the ledger.\n", verb, *keyPath)
		fmt.Fprintf(c.stdout, "Public key (give it to verifiers): %s\n  %s\n", *pubPath, vkey)
		return nil
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// writeNew creates a file that must not exist yet.
func writeNew(path, data string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// inside reports whether path is inside dir (or is dir).
func inside(dir, path string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	if r, err := filepath.EvalSymlinks(ad); err == nil {
		ad = r
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(ap)); err == nil {
		ap = filepath.Join(r, filepath.Base(ap))
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// openWriter opens the ledger for writing with the key in keyPath.
func openWriter(dir, keyPath string) (*ledger.Ledger, error) {
	if keyPath == "" {
		return nil, usagef("--key (the private signing key) is required")
	}
	s, err := ledger.LoadSigner(keyPath)
	if err != nil {
		return nil, err
	}
	return ledger.Open(dir, s, nil)
}

// printRecovery reports on stderr what Open repaired after a crash.
func (c *ctx) printRecovery(l *ledger.Ledger) {
	r := l.Recovery()
	if r.Dropped > 0 {
		fmt.Fprintf(c.stderr, "rampart ledger: recovered after a crash: dropped %d incomplete record(s) (%d bytes, saved in %s); %d entries after checkpoint %d kept\n",
			r.Dropped, r.DroppedBytes, filepath.Join(l.Dir(), r.DroppedFile), r.Rescanned, r.Checkpoint)
	}
	if r.DroppedCheckpoints > 0 {
		fmt.Fprintf(c.stderr, "rampart ledger: recovered after a crash: dropped %d incomplete checkpoint record(s)\n", r.DroppedCheckpoints)
	}
}

func ledgerAppend(fs *flag.FlagSet) func(*ctx, []string) error {
	keyPath := fs.String("key", "", "private signing key file (required)")
	noCheckpoint := fs.Bool("no-checkpoint", false, "do not sign a checkpoint after appending")
	return func(c *ctx, args []string) error {
		if len(args) < 1 {
			return usagef("expected arguments DIR [ENTRY...], got 0")
		}
		var entries [][]byte
		for _, a := range args[1:] {
			entries = append(entries, []byte(a))
		}
		if len(args) == 1 || (len(args) == 2 && args[1] == "-") {
			entries = nil
			sc := bufio.NewScanner(c.stdin)
			sc.Buffer(make([]byte, 64<<10), ledger.MaxEntrySize)
			for sc.Scan() {
				if line := bytes.TrimRight(sc.Bytes(), "\r"); len(line) > 0 {
					entries = append(entries, append([]byte(nil), line...))
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("reading entries from stdin: %v", err)
			}
		}
		l, err := openWriter(args[0], *keyPath)
		if err != nil {
			return err
		}
		defer l.Close()
		c.printRecovery(l)
		first := l.Size()
		if len(entries) > 0 {
			if first, err = l.AppendBatch(entries); err != nil {
				return err
			}
		}
		var cp *ledger.Checkpoint
		if !*noCheckpoint {
			if cp, err = l.Checkpoint(); err != nil {
				return err
			}
		}
		if err := l.Close(); err != nil && !errors.Is(err, ledger.ErrClosed) {
			return err
		}
		if c.json {
			j := map[string]any{"first": first, "count": len(entries), "size": first + uint64(len(entries))}
			if cp != nil {
				j["checkpoint"] = checkpointJSON(cp)
			}
			return c.writeJSON(j)
		}
		if len(entries) == 0 {
			fmt.Fprintln(c.stdout, "No entries to append.")
		} else {
			fmt.Fprintf(c.stdout, "Appended %d entries: %s.\n", len(entries), seqRange(first, uint64(len(entries))))
		}
		if cp != nil {
			fmt.Fprintf(c.stdout, "Checkpoint: size %d, root %s\n", cp.Size, b64(cp.Root[:]))
		}
		return nil
	}
}

func seqRange(first, n uint64) string {
	if n == 1 {
		return fmt.Sprintf("number %d", first)
	}
	return fmt.Sprintf("numbers %d..%d", first, first+n-1)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type checkpointOut struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
	Note   string `json:"note"`
}

func checkpointJSON(c *ledger.Checkpoint) checkpointOut {
	return checkpointOut{c.Origin, c.Size, b64(c.Root[:]), string(c.Note)}
}

func ledgerCheckpoint(fs *flag.FlagSet) func(*ctx, []string) error {
	keyPath := fs.String("key", "", "private signing key file (required)")
	out := fs.String("out", "", "also write the signed checkpoint to this file")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		l, err := openWriter(args[0], *keyPath)
		if err != nil {
			return err
		}
		defer l.Close()
		c.printRecovery(l)
		cp, err := l.Checkpoint()
		if err != nil {
			return err
		}
		if *out != "" {
			if err := os.WriteFile(*out, cp.Note, 0o644); err != nil {
				return err
			}
		}
		if c.json {
			return c.writeJSON(checkpointJSON(cp))
		}
		_, err = c.stdout.Write(cp.Note)
		return err
	}
}

// loadVerifiers reads --key files for verbs that check signatures.
func loadVerifiers(keys []string) (note.Verifiers, error) {
	if len(keys) == 0 {
		return nil, usagef("--key (the public verifier key) is required")
	}
	v, err := ledger.LoadVerifiers(keys...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return v, nil
}

func ledgerVerify(fs *flag.FlagSet) func(*ctx, []string) error {
	var keys, cps listFlag
	fs.Var(&keys, "key", "public verifier key file (repeatable, e.g. after a key rotation) (required)")
	fs.Var(&cps, "checkpoint", "signed checkpoint kept outside the ledger, e.g. by a witness (repeatable)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		v, err := loadVerifiers(keys)
		if err != nil {
			return err
		}
		var ext []ledger.External
		for _, p := range cps {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			ext = append(ext, ledger.External{Name: p, Note: b})
		}
		rep, err := ledger.Verify(args[0], v, ext)
		if err != nil {
			return err
		}
		if c.json {
			if err := c.writeJSON(rep); err != nil {
				return err
			}
		} else {
			printLedgerReport(c.stdout, rep)
		}
		if !rep.OK {
			return &failure{}
		}
		return nil
	}
}

func printLedgerReport(w io.Writer, rep *ledger.Report) {
	valid, ext := 0, 0
	for _, s := range rep.Checkpoints {
		if s.Valid {
			valid++
		}
		if s.External {
			ext++
		}
	}
	fmt.Fprintf(w, "Ledger %s (origin %s): %d entries.\n", rep.Dir, rep.Origin, rep.Entries)
	fmt.Fprintf(w, "Checkpoints: %d valid of %d (%d from outside the ledger).\n", valid, len(rep.Checkpoints), ext)
	switch {
	case rep.OK && rep.Entries == 0:
		fmt.Fprintln(w, "OK: the ledger is empty, as its checkpoints say.")
	case rep.OK:
		fmt.Fprintf(w, "OK: entries 0..%d match every checkpoint; the stored hashes and index agree.\n", int64(rep.Verified)-1)
	default:
		p := rep.First()
		where := "no entry position"
		if p.Entry >= 0 {
			where = fmt.Sprintf("entry %d", p.Entry)
		}
		fmt.Fprintf(w, "TAMPERING OR DAMAGE DETECTED: first at %s: %s\n", where, strings.ToUpper(string(p.Kind)))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		if rep.Verified > 0 {
			fmt.Fprintf(w, "Entries 0..%d match a valid checkpoint.\n", rep.Verified-1)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func ledgerProve(fs *flag.FlagSet) func(*ctx, []string) error {
	check := fs.String("check", "", "check this tlog-proof file instead (no ledger needed)")
	var keys listFlag
	fs.Var(&keys, "key", "public verifier key file (required with --check; optional otherwise, to check the checkpoint)")
	ckptPath := fs.String("checkpoint", "", "prove against this signed checkpoint (e.g. one cosigned by witnesses) instead of the latest")
	out := fs.String("out", "", "write the proof to this file (default stdout)")
	data := fs.String("data", "", "with --check: also require the entry's data to equal this file's content")
	return func(c *ctx, args []string) error {
		if *check != "" {
			if err := wantArgs(args, 0, 0, "(none with --check)"); err != nil {
				return err
			}
			return checkInclusionProof(c, *check, keys, *data)
		}
		if err := wantArgs(args, 2, 2, "DIR N"); err != nil {
			return err
		}
		n, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return usagef("entry number %q: %v", args[1], err)
		}
		l, err := ledger.Open(args[0], nil, nil)
		if err != nil {
			return err
		}
		defer l.Close()
		cp := l.Latest()
		if *ckptPath != "" {
			if cp, err = readCheckpoint(*ckptPath, keys); err != nil {
				return err
			}
		} else if len(keys) > 0 {
			v, err := loadVerifiers(keys)
			if err != nil {
				return err
			}
			if _, err := ledger.OpenCheckpoint(cp.Note, v); err != nil {
				return &failure{fmt.Sprintf("latest checkpoint: %v", err)}
			}
		}
		if cp == nil || n >= cp.Size {
			size := uint64(0)
			if cp != nil {
				size = cp.Size
			}
			return fmt.Errorf("entry %d is not covered by the checkpoint (size %d): sign one with 'rampart ledger checkpoint'", n, size)
		}
		if cp.Size > l.Size() {
			return &failure{fmt.Sprintf("the checkpoint has size %d, the ledger only %d entries (truncated?)", cp.Size, l.Size())}
		}
		if root, err := l.TreeHash(cp.Size); err != nil {
			return err
		} else if root != cp.Root {
			return &failure{fmt.Sprintf("the ledger does not match the checkpoint at size %d: run 'rampart ledger verify'", cp.Size)}
		}
		e, err := l.Entry(n)
		if err != nil {
			return err
		}
		path, err := l.ProveInclusion(n, cp.Size)
		if err != nil {
			return err
		}
		leaf := e.Leaf()
		if err := ledger.CheckInclusion(cp, n, tlog.RecordHash(leaf), path); err != nil {
			return &failure{err.Error()}
		}
		pf := &ledger.InclusionProof{Extra: leaf, Index: n, Path: path, Checkpoint: cp.Note}
		b := pf.Marshal()
		if *out != "" {
			if err := os.WriteFile(*out, b, 0o644); err != nil {
				return err
			}
			if c.json {
				return c.writeJSON(map[string]any{"entry": n, "tree_size": cp.Size, "proof_file": *out})
			}
			fmt.Fprintf(c.stdout, "Wrote the proof of entry %d in the tree of %d entries to %s.\n", n, cp.Size, *out)
			return nil
		}
		if c.json {
			return c.writeJSON(map[string]any{"entry": n, "tree_size": cp.Size, "proof": string(b)})
		}
		_, err = c.stdout.Write(b)
		return err
	}
}

// readCheckpoint reads a signed checkpoint file; with keys, it checks the
// signature.
func readCheckpoint(path string, keys []string) (*ledger.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		cp, err := ledger.ParseSignedCheckpoint(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return cp, nil
	}
	v, err := loadVerifiers(keys)
	if err != nil {
		return nil, err
	}
	cp, err := ledger.OpenCheckpoint(b, v)
	if err != nil {
		return nil, &failure{fmt.Sprintf("%s: %v", path, err)}
	}
	return cp, nil
}

func checkInclusionProof(c *ctx, path string, keys []string, dataPath string) error {
	v, err := loadVerifiers(keys)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	pf, err := ledger.ParseInclusionProof(b)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	cp, e, err := pf.Check(v)
	if err == nil && dataPath != "" {
		want, rerr := os.ReadFile(dataPath)
		if rerr != nil {
			return rerr
		}
		if !bytes.Equal(want, e.Data) {
			err = fmt.Errorf("the proven entry's data differs from %s", dataPath)
		}
	}
	if c.json {
		j := map[string]any{"ok": err == nil, "proof": path}
		if err != nil {
			j["error"] = err.Error()
		} else {
			j["origin"], j["tree_size"], j["root"] = cp.Origin, cp.Size, b64(cp.Root[:])
			j["entry"] = entryJSON(e)
		}
		if werr := c.writeJSON(j); werr != nil {
			return werr
		}
		if err != nil {
			return &failure{}
		}
		return nil
	}
	if err != nil {
		return &failure{fmt.Sprintf("%s: %v", path, err)}
	}
	fmt.Fprintf(c.stdout, "OK: entry %d (appended %s) is in %s at tree size %d, root %s.\n",
		e.Seq, e.Time.Format(time.RFC3339Nano), cp.Origin, cp.Size, b64(cp.Root[:]))
	fmt.Fprintf(c.stdout, "Data: %s\n", printable(e.Data))
	return nil
}

// printable shows data as text when it is one line of UTF-8, else base64.
func printable(d []byte) string {
	if utf8.Valid(d) && !bytes.ContainsAny(d, "\n\r\x00\x1b") {
		return string(d)
	}
	return "base64:" + b64(d)
}

func ledgerConsistency(fs *flag.FlagSet) func(*ctx, []string) error {
	var keys listFlag
	fs.Var(&keys, "key", "public verifier key file: check the checkpoints' signatures (required with --check)")
	out := fs.String("out", "", "write the proof (tlog-witness add-checkpoint body) to this file")
	check := fs.String("check", "", "check this consistency proof file instead (no ledger needed); needs --old and --key")
	oldPath := fs.String("old", "", "with --check: the older checkpoint file")
	return func(c *ctx, args []string) error {
		if *check != "" {
			if err := wantArgs(args, 0, 0, "(none with --check)"); err != nil {
				return err
			}
			if *oldPath == "" {
				return usagef("--check needs --old (the older checkpoint the proof starts from)")
			}
			return checkConsistencyProof(c, *check, *oldPath, keys)
		}
		if err := wantArgs(args, 3, 3, "DIR OLD NEW"); err != nil {
			return err
		}
		l, err := ledger.Open(args[0], nil, nil)
		if err != nil {
			return err
		}
		defer l.Close()
		older, err := resolveCheckpoint(l, args[1], keys)
		if err != nil {
			return err
		}
		newer, err := resolveCheckpoint(l, args[2], keys)
		if err != nil {
			return err
		}
		if older.Origin != newer.Origin || older.Origin != l.Origin() {
			return &failure{fmt.Sprintf("checkpoints of different logs: %q, %q (this ledger is %q)", older.Origin, newer.Origin, l.Origin())}
		}
		if older.Size > newer.Size {
			return &failure{fmt.Sprintf("NEW (size %d) is smaller than OLD (size %d): it cannot extend it (was the log rolled back?)", newer.Size, older.Size)}
		}
		if newer.Size > l.Size() {
			return &failure{fmt.Sprintf("NEW has size %d, the ledger only %d entries: it was truncated, or NEW is from another copy", newer.Size, l.Size())}
		}
		// Diagnose against the ledger first: which checkpoint it matches.
		for _, cp := range []*ledger.Checkpoint{older, newer} {
			if h, err := l.TreeHash(cp.Size); err != nil {
				return err
			} else if h != cp.Root {
				return &failure{fmt.Sprintf("the ledger's tree at size %d differs from %s: the log was rewritten or forked (run 'rampart ledger verify')", cp.Size, cp)}
			}
		}
		proof, err := l.ProveConsistency(older.Size, newer.Size)
		if err != nil {
			return err
		}
		if older.Size > 0 && older.Size < newer.Size {
			if err := ledger.CheckConsistency(older, newer, proof); err != nil {
				return &failure{err.Error()}
			}
		}
		cpf := &ledger.ConsistencyProof{Old: older.Size, Path: proof, Checkpoint: newer.Note}
		if *out != "" {
			if err := os.WriteFile(*out, cpf.Marshal(), 0o644); err != nil {
				return err
			}
		}
		signed := "signatures checked"
		if len(keys) == 0 {
			signed = "signatures NOT checked (give --key)"
		}
		if c.json {
			hs := []string{}
			for _, h := range proof {
				hs = append(hs, b64(h[:]))
			}
			return c.writeJSON(map[string]any{"ok": true, "old": checkpointJSON(older), "new": checkpointJSON(newer), "proof": hs, "signatures_checked": len(keys) > 0})
		}
		fmt.Fprintf(c.stdout, "OK: the checkpoint of size %d extends the one of size %d (%d proof hashes; %s).\n", newer.Size, older.Size, len(proof), signed)
		if *out != "" {
			fmt.Fprintf(c.stdout, "Wrote the proof to %s.\n", *out)
		}
		return nil
	}
}

// resolveCheckpoint finds OLD or NEW: "latest", a recorded checkpoint's
// size, or a checkpoint file.
func resolveCheckpoint(l *ledger.Ledger, arg string, keys []string) (*ledger.Checkpoint, error) {
	var cp *ledger.Checkpoint
	if arg == "latest" {
		cp = l.Latest()
		if cp == nil {
			return nil, fmt.Errorf("the ledger has no checkpoint")
		}
	} else if n, err := strconv.ParseUint(arg, 10, 64); err == nil && !exists(arg) {
		list, err := l.Checkpoints()
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if c.Size == n {
				cp = c
			}
		}
		if cp == nil {
			return nil, usagef("the ledger has no checkpoint of size %d", n)
		}
	} else {
		return readCheckpoint(arg, keys)
	}
	if len(keys) > 0 {
		v, err := loadVerifiers(keys)
		if err != nil {
			return nil, err
		}
		if _, err := ledger.OpenCheckpoint(cp.Note, v); err != nil {
			return nil, &failure{fmt.Sprintf("checkpoint of size %d: %v", cp.Size, err)}
		}
	}
	return cp, nil
}

func checkConsistencyProof(c *ctx, path, oldPath string, keys []string) error {
	v, err := loadVerifiers(keys)
	if err != nil {
		return err
	}
	older, err := readCheckpoint(oldPath, keys)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p, err := ledger.ParseConsistencyProof(b)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	newer, err := p.Check(older, v)
	if c.json {
		j := map[string]any{"ok": err == nil}
		if err != nil {
			j["error"] = err.Error()
		} else {
			j["old"], j["new"] = checkpointJSON(older), checkpointJSON(newer)
		}
		if werr := c.writeJSON(j); werr != nil {
			return werr
		}
		if err != nil {
			return &failure{}
		}
		return nil
	}
	if err != nil {
		return &failure{fmt.Sprintf("%s: %v", path, err)}
	}
	fmt.Fprintf(c.stdout, "OK: %s (size %d) extends %s (size %d).\n", newer.Origin, newer.Size, oldPath, older.Size)
	return nil
}

// entryOut is an entry as a JSON line: data inline when it is compact
// JSON, else base64, so that the exact bytes can be recovered.
type entryOut struct {
	Seq        uint64          `json:"seq"`
	Time       string          `json:"time"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 string          `json:"data_base64,omitempty"`
}

func entryJSON(e ledger.Entry) entryOut {
	o := entryOut{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano)}
	var buf bytes.Buffer
	if len(e.Data) > 0 && json.Valid(e.Data) && json.Compact(&buf, e.Data) == nil && bytes.Equal(buf.Bytes(), e.Data) {
		o.Data = e.Data
	} else {
		o.DataBase64 = b64(e.Data)
	}
	return o
}

// fieldFilter is a --where condition on a JSON entry: path=value,
// path!=value, path~regexp or just path (present).
type fieldFilter struct {
	path []string
	op   string
	val  string
	re   *regexp.Regexp
}

func parseFilter(s string) (*fieldFilter, error) {
	f := &fieldFilter{}
	i := strings.IndexAny(s, "=!~")
	if i < 0 {
		f.op = "exists"
		f.path = strings.Split(s, ".")
	} else {
		f.path = strings.Split(s[:i], ".")
		switch rest := s[i:]; {
		case strings.HasPrefix(rest, "!="):
			f.op, f.val = "!=", rest[2:]
		case rest[0] == '=':
			f.op, f.val = "=", rest[1:]
		case rest[0] == '~':
			re, err := regexp.Compile(rest[1:])
			if err != nil {
				return nil, fmt.Errorf("--where %q: %v", s, err)
			}
			f.op, f.re = "~", re
		default:
			return nil, fmt.Errorf("--where %q: want PATH=VALUE, PATH!=VALUE, PATH~REGEXP or PATH", s)
		}
	}
	for _, p := range f.path {
		if p == "" {
			return nil, fmt.Errorf("--where %q: empty field name in the dotted path", s)
		}
	}
	return f, nil
}

// lookup finds a dotted path in a decoded JSON value and renders scalars
// as text: strings as is, numbers as written, true, false, null; objects
// and arrays as compact JSON.
func lookup(v any, path []string) (string, bool) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return "", false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "null", true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

// matchAll reports whether an entry's data, as JSON, meets every filter.
// Entries that are not JSON match only when there are no filters.
func matchAll(filters []*fieldFilter, data []byte) bool {
	if len(filters) == 0 {
		return true
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return false
	}
	for _, f := range filters {
		s, ok := lookup(v, f.path)
		switch f.op {
		case "exists":
			if !ok {
				return false
			}
		case "=":
			if !ok || s != f.val {
				return false
			}
		case "!=":
			if ok && s == f.val {
				return false
			}
		case "~":
			if !ok || !f.re.MatchString(s) {
				return false
			}
		}
	}
	return true
}

func parseFilters(list []string) ([]*fieldFilter, error) {
	var fs []*fieldFilter
	for _, s := range list {
		f, err := parseFilter(s)
		if err != nil {
			return nil, usagef("%v", err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func ledgerExport(fs *flag.FlagSet) func(*ctx, []string) error {
	from := fs.Uint64("from", 0, "first entry to export")
	to := fs.Int64("to", -1, "export entries before this number (default: all)")
	var where listFlag
	fs.Var(&where, "where", "only entries whose JSON field (dotted path) matches: PATH=VALUE, PATH!=VALUE, PATH~REGEXP or PATH (repeatable; all must match)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		filters, err := parseFilters(where)
		if err != nil {
			return err
		}
		r, err := ledger.NewReader(args[0], *from)
		if err != nil {
			return err
		}
		defer r.Close()
		w := bufio.NewWriterSize(c.stdout, 1<<16)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for *to < 0 || r.Position() < uint64(*to) {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				w.Flush()
				return err
			}
			if matchAll(filters, e.Data) {
				if err := enc.Encode(entryJSON(e)); err != nil {
					return err
				}
			}
		}
		return w.Flush()
	}
}

func ledgerTail(fs *flag.FlagSet) func(*ctx, []string) error {
	n := fs.Int("n", 10, "print the last N (matching) entries first")
	follow := fs.Bool("f", false, "follow: keep printing entries as they are appended")
	var where listFlag
	fs.Var(&where, "where", "only entries whose JSON field (dotted path) matches: PATH=VALUE, PATH!=VALUE, PATH~REGEXP or PATH (repeatable)")
	interval := fs.Duration("interval", 200*time.Millisecond, "with -f: how often to look for new entries")
	timeout := fs.Duration("timeout", 0, "with -f: stop after this long (default: never)")
	count := fs.Int("count", 0, "stop after printing this many entries (default: no limit)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "DIR"); err != nil {
			return err
		}
		if *n < 0 {
			return usagef("-n %d: want 0 or more", *n)
		}
		filters, err := parseFilters(where)
		if err != nil {
			return err
		}
		var r *ledger.Reader
		if len(filters) == 0 {
			r, err = ledger.NewReaderLast(args[0], uint64(*n))
		} else {
			r, err = ledger.NewReader(args[0], 0) // the last n matches may be anywhere
		}
		if err != nil {
			return err
		}
		defer r.Close()
		printed := 0
		emit := func(e ledger.Entry) error {
			printed++
			if c.json {
				b, _ := json.Marshal(entryJSON(e))
				_, err := fmt.Fprintf(c.stdout, "%s\n", b)
				return err
			}
			_, err := fmt.Fprintf(c.stdout, "%d\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339Nano), printable(e.Data))
			return err
		}
		done := func() bool { return *count > 0 && printed >= *count }
		// The last n matching entries of what is there now.
		var last []ledger.Entry
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if *n > 0 && matchAll(filters, e.Data) {
				if len(last) == *n {
					last = last[1:]
				}
				last = append(last, e)
			}
		}
		for _, e := range last {
			if done() {
				return nil
			}
			if err := emit(e); err != nil {
				return err
			}
		}
		if !*follow {
			return nil
		}
		var deadline <-chan time.Time
		if *timeout > 0 {
			t := time.NewTimer(*timeout)
			defer t.Stop()
			deadline = t.C
		}
		tick := time.NewTicker(max(*interval, time.Millisecond))
		defer tick.Stop()
		for !done() {
			e, err := r.Next()
			if err == io.EOF {
				select {
				case <-deadline:
					return nil
				case <-tick.C:
				}
				continue
			}
			if err != nil {
				return err
			}
			if matchAll(filters, e.Data) {
				if err := emit(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
}
