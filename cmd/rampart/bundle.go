package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/image/bundle"
	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

func bundleGroup() *group {
	return &group{
		name:    "bundle",
		summary: "signed upgrade bundles and A/B slots: create, verify, install, boot state, rollback",
		verbs: []*verb{
			{name: "root", args: "", summary: "write root metadata: keys, roles, thresholds, expiry (the root of trust)", setup: bundleRoot, help: bundleRootHelp},
			{name: "create", args: "MANIFEST", summary: "pack a sealed image and its root chain into one streamable bundle", setup: bundleCreate},
			{name: "verify", args: "BUNDLE", summary: "check everything in a bundle before anything is installed", setup: bundleVerify},
			{name: "install", args: "BUNDLE|-", summary: "write a bundle to the inactive slot, verify it there, then make it boot next", setup: bundleInstall, help: bundleInstallHelp},
			{name: "status", args: "", summary: "show the slots and their boot state", setup: bundleStatus},
			{name: "boot", args: "", summary: "apply the boot rule as an init does: choose the slot, count the try, print its table", setup: bundleBoot},
			{name: "mark-good", args: "", summary: "mark the booted slot successful; advance the stored rollback index", setup: bundleMarkGood},
			{name: "rollback", args: "", summary: "make the other slot boot next, if it can", setup: bundleRollback},
		},
	}
}

const bundleRootHelp = `
Root metadata version N+1 must be signed by a threshold of version N's
root keys and a threshold of its own: write it with --from the previous
root, then have each key holder add a signature with "rampart image sign".
Keys are given as PEM public key files (rampart image keygen writes them);
--revoke and --key-expires take such a file or a key ID.`

const bundleInstallHelp = `
--slots DIR keeps everything in DIR: the slots as files (a.img, a.verity,
b.img, b.verity), the boot state, the installed manifests and the trusted
root. --slots PART_A,PART_B installs into two partitions (the image, then
the tree at the next 4096-byte boundary) and keeps the rest in --state DIR.
The trust is --trust, or the root stored in the state directory by an
earlier install when it is newer.`

// slotFlags select the slots.
type slotFlags struct{ slots, state string }

func (f *slotFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.slots, "slots", "", "state directory holding file slots, or two partitions A,B (required)")
	fs.StringVar(&f.state, "state", "", "state directory, with --slots A,B")
}

func (f *slotFlags) open() (*slot.Slots, error) {
	cfg, err := slot.ParseConfig(f.slots, f.state)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return slot.Open(cfg)
}

// keyIDsOf resolves a PEM public key file, or a key ID, to key IDs.
func keyIDsOf(arg string) ([]string, error) {
	if _, err := os.Stat(arg); err == nil {
		keys, err := trust.LoadPublicKeys(arg)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, trust.KeyID(k))
		}
		return ids, nil
	}
	if len(arg) != 2*trust.KeyIDBytes || strings.Trim(arg, "0123456789abcdef") != "" {
		return nil, usagef("%q is neither a public key file nor a key ID", arg)
	}
	return []string{arg}, nil
}

// parseDate reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, usagef("%q is not a date (YYYY-MM-DD or RFC 3339)", s)
	}
	return t, nil
}

func bundleRoot(fs *flag.FlagSet) func(*ctx, []string) error {
	out := fs.String("out", "", "root metadata file to write (required)")
	from := fs.String("from", "", "previous root metadata: the new one gets its version + 1")
	ver := fs.Uint64("version", 0, "version (default 1, or --from's + 1)")
	expires := fs.String("expires", "", "expiry date, YYYY-MM-DD or RFC 3339 (required)")
	var rootKeys, relKeys, keyExpires, revoke, sign repeatedFlag
	fs.Var(&rootKeys, "root-key", "PEM `file` of public key(s) of the root role; repeat")
	fs.Var(&relKeys, "release-key", "PEM `file` of public key(s) of the release role, which signs manifests; repeat")
	rootT := fs.Int("root-threshold", 1, "signatures the root role needs")
	relT := fs.Int("release-threshold", 1, "signatures the release role needs")
	fs.Var(&keyExpires, "key-expires", "`KEY=DATE`: signatures by KEY (file or ID) stop counting after DATE; repeat")
	fs.Var(&revoke, "revoke", "`KEY` (file or ID) whose signatures never count; repeat")
	fs.Var(&sign, "sign", "private `key` to sign the new root with; repeat")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		if *out == "" || *expires == "" || len(rootKeys) == 0 || len(relKeys) == 0 {
			return usagef("--out, --expires, --root-key and --release-key are required")
		}
		exp, err := parseDate(*expires)
		if err != nil {
			return err
		}
		r := &trust.Root{Type: trust.TypeRoot, Version: *ver, Expires: trust.FormatTime(exp), Keys: map[string]trust.Key{}, Roles: map[string]trust.Role{}}
		if *from != "" {
			env, err := trust.ReadEnvelope(*from)
			if err != nil {
				return err
			}
			prev, err := trust.ParseRoot(env)
			if err != nil {
				return err
			}
			if r.Version == 0 {
				r.Version = prev.Version + 1
			}
		}
		if r.Version == 0 {
			r.Version = 1
		}
		for _, role := range []struct {
			name  string
			files []string
			th    int
		}{{trust.RoleRoot, rootKeys, *rootT}, {trust.RoleRelease, relKeys, *relT}} {
			ro := trust.Role{Threshold: role.th}
			for _, f := range role.files {
				keys, err := trust.LoadPublicKeys(f)
				if err != nil {
					return err
				}
				for _, k := range keys {
					id := trust.KeyID(k)
					r.Keys[id] = trust.NewKey(k, time.Time{})
					ro.KeyIDs = append(ro.KeyIDs, id)
				}
			}
			sort.Strings(ro.KeyIDs)
			r.Roles[role.name] = ro
		}
		for _, ke := range keyExpires {
			k, date, ok := strings.Cut(ke, "=")
			if !ok {
				return usagef("--key-expires %q: want KEY=DATE", ke)
			}
			t, err := parseDate(date)
			if err != nil {
				return err
			}
			ids, err := keyIDsOf(k)
			if err != nil {
				return err
			}
			for _, id := range ids {
				e, ok := r.Keys[id]
				if !ok {
					return usagef("--key-expires: key %s is not in the root", id)
				}
				e.Expires = trust.FormatTime(t)
				r.Keys[id] = e
			}
		}
		for _, k := range revoke {
			ids, err := keyIDsOf(k)
			if err != nil {
				return err
			}
			r.Revoked = append(r.Revoked, ids...)
		}
		sort.Strings(r.Revoked)
		if err := r.Check(); err != nil {
			return usagef("%v", err)
		}
		env, err := trust.NewEnvelope(r)
		if err != nil {
			return err
		}
		keys, err := loadKeys(sign)
		if err != nil {
			return err
		}
		for _, k := range keys {
			env.Sign(k)
		}
		if err := env.WriteFile(*out); err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"file": *out, "root": r, "signatures": keyIDs(env)})
		}
		fmt.Fprintf(c.stdout, "Wrote %s:\n", *out)
		printRoot(c.stdout, r, env)
		return nil
	}
}

func bundleCreate(fs *flag.FlagSet) func(*ctx, []string) error {
	out := fs.String("out", "", "bundle file to write, - for stdout (required)")
	var roots repeatedFlag
	fs.Var(&roots, "root", "root metadata `file` to ship, oldest first (the rotation chain); repeat")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "MANIFEST"); err != nil {
			return err
		}
		if *out == "" {
			return usagef("--out is required")
		}
		o := &bundle.CreateOptions{Now: time.Now()}
		for _, r := range roots {
			env, err := trust.ReadEnvelope(r)
			if err != nil {
				return err
			}
			o.Roots = append(o.Roots, env)
		}
		if *out == "-" {
			_, err := bundle.Create(c.stdout, args[0], o)
			return err
		}
		h, err := bundle.CreateFile(*out, args[0], o)
		if err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"bundle": *out, "size": h.Size(), "payload_offset": h.PayloadOffset(), "roots": len(o.Roots)})
		}
		fmt.Fprintf(c.stdout, "Wrote %s: %d bytes (tree %d, image %d, parity %d; %d root(s))\n", *out, h.Size(), h.TreeLen, h.ImageLen, h.FECLen, len(o.Roots))
		return nil
	}
}

// policyFlags are what verify and install check a bundle against.
type policyFlags struct {
	trustFlags
	target string
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	p.trustFlags.register(fs)
	fs.StringVar(&p.target, "target", "", "refuse images for another kind of node: guest or host")
}

// policy builds the policy; the trust may come from the node's stored
// root (s) when --trust is not given. The envelope is that of signed
// root metadata given with --trust.
func (p *policyFlags) policy(s *slot.Slots) (bundle.Policy, *trust.Envelope, error) {
	pol := bundle.Policy{Now: time.Now(), Target: p.target}
	if p.target != "" && p.target != manifest.TargetGuest && p.target != manifest.TargetHost {
		return pol, nil, usagef("--target %q: want guest or host", p.target)
	}
	var err error
	var env *trust.Envelope
	if pol.Trust, env, pol.Certs, err = p.load(pol.Now); err != nil {
		return pol, nil, err
	}
	if pol.Trust == nil && s != nil {
		if pol.Trust, _, err = trust.LoadRoot(s.RootPath(), pol.Now); os.IsNotExist(err) {
			return pol, nil, usagef("--trust is required (%s holds no trusted root yet)", s.RootPath())
		} else if err != nil {
			return pol, nil, err
		}
	}
	if pol.Trust == nil {
		return pol, nil, usagef("--trust is required")
	}
	return pol, env, nil
}

func printBundleReport(w io.Writer, rep *bundle.Report, what string) {
	if m := rep.Manifest; m != nil {
		fmt.Fprintf(w, "Bundle of %s %s for %s nodes, rollback index %d; root v%d\n", m.Name, m.Version, m.Target, m.RollbackIndex, rep.RootVersion)
	}
	printSignatures(w, rep.Signatures)
	if rep.PKCS7 != "" {
		fmt.Fprintf(w, "Kernel root-hash signature: %s\n", rep.PKCS7)
	}
	if rep.Tree != nil {
		if rep.Tree.OK {
			fmt.Fprintf(w, "Verified %d data blocks and %d hash blocks against root hash %s\n", rep.Tree.DataBlocks, rep.Tree.HashBlocks, rep.Tree.RootHash)
		}
		for _, p := range rep.Tree.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "REFUSED: %s\n", p)
	}
	if rep.OK {
		fmt.Fprintln(w, what)
	}
}

func bundleVerify(fs *flag.FlagSet) func(*ctx, []string) error {
	var pf policyFlags
	pf.register(fs)
	var sf slotFlags
	fs.StringVar(&sf.slots, "slots", "", "also apply this node's stored rollback index and root (DIR or A,B)")
	fs.StringVar(&sf.state, "state", "", "state directory, with --slots A,B")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "BUNDLE"); err != nil {
			return err
		}
		var s *slot.Slots
		var err error
		if sf.slots != "" {
			if s, err = sf.open(); err != nil {
				return err
			}
		}
		pol, _, err := pf.policy(s)
		if err != nil {
			return err
		}
		if s != nil {
			st, err := s.Load()
			if err != nil {
				return err
			}
			if err := bundle.NodePolicy(s, st, &pol); err != nil {
				return err
			}
		}
		rep, err := bundle.VerifyFile(args[0], &pol, verity.VerifyOptions{Options: verity.Options{Progress: c.progress("verifying")}})
		if err != nil {
			return err
		}
		if c.json {
			if err := c.writeJSON(rep); err != nil {
				return err
			}
		} else {
			printBundleReport(c.stdout, rep, "OK: the bundle can be installed")
		}
		if !rep.OK {
			return &failure{}
		}
		return nil
	}
}

func bundleInstall(fs *flag.FlagSet) func(*ctx, []string) error {
	var pf policyFlags
	pf.register(fs)
	var sf slotFlags
	sf.register(fs)
	tries := fs.Uint("tries", 1, "boots the new slot gets before it must be marked good (1 to 15)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "BUNDLE|-"); err != nil {
			return err
		}
		if *tries < 1 || *tries > slot.MaxTries {
			return usagef("--tries %d: want 1 to %d", *tries, slot.MaxTries)
		}
		s, err := sf.open()
		if err != nil {
			return err
		}
		pol, trustEnv, err := pf.policy(s)
		if err != nil {
			return err
		}
		var in io.Reader = c.stdin
		if args[0] != "-" {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		res, err := bundle.Install(in, s, &bundle.InstallOptions{Policy: pol, Tries: uint8(*tries), TrustEnvelope: trustEnv,
			Verity: verity.Options{Progress: c.progress("installing")}})
		var re *bundle.RefusedError
		if errors.As(err, &re) {
			if c.json {
				c.writeJSON(re.Report)
			} else {
				printBundleReport(c.stdout, re.Report, "")
			}
			return &failure{msg: "bundle refused; the running slot is untouched"}
		}
		if err != nil {
			return err
		}
		m := res.Report.Manifest
		if c.json {
			return c.writeJSON(map[string]any{"slot": res.Slot.String(), "manifest": m, "root_updated": res.RootUpdated,
				"root_version": res.Report.RootVersion, "report": res.Report, "state": stateJSON(s, res.State)})
		}
		fmt.Fprintf(c.stdout, "Installed %s %s in slot %s and verified it there (%d data blocks, root hash %s).\n",
			m.Name, m.Version, res.Slot, res.Report.Tree.DataBlocks, m.Verity.RootHash)
		fmt.Fprintf(c.stdout, "Slot %s boots next (boot attempts: %d); mark it good once it runs well (rampart bundle mark-good).\n", res.Slot, *tries)
		if res.RootUpdated {
			fmt.Fprintf(c.stdout, "Trusted root stored: v%d.\n", res.Report.RootVersion)
		}
		return nil
	}
}

// slotJSON is the machine form of a slot's state.
type slotJSON struct {
	Slot          string `json:"slot"`
	Empty         bool   `json:"empty"`
	Name          string `json:"name,omitempty"`
	Version       string `json:"version,omitempty"`
	RollbackIndex uint64 `json:"rollback_index"`
	Priority      uint8  `json:"priority"`
	TriesLeft     uint8  `json:"tries_left"`
	Successful    bool   `json:"successful"`
	Bootable      bool   `json:"bootable"`
	Why           string `json:"why_not_bootable,omitempty"`
	Manifest      string `json:"manifest_sha256,omitempty"`
	// Problem says when the manifest on disk is not the one recorded.
	Problem string `json:"problem,omitempty"`
}

type statusJSON struct {
	Dir           string     `json:"dir"`
	Generation    uint64     `json:"generation"`
	RollbackIndex uint64     `json:"rollback_index"`
	Booted        string     `json:"booted"`
	Next          string     `json:"next"`
	RootVersion   uint64     `json:"trusted_root_version,omitempty"`
	Slots         []slotJSON `json:"slots"`
}

func stateJSON(s *slot.Slots, st *slot.State) statusJSON {
	next, _ := st.Choose()
	out := statusJSON{Dir: s.Config().Dir, Generation: st.Generation, RollbackIndex: st.RollbackIndex, Booted: st.Booted.String(), Next: next.String()}
	if r, _, err := trust.LoadRoot(s.RootPath(), time.Now()); err == nil {
		out.RootVersion = r.Version
	}
	for _, x := range []slot.Slot{slot.A, slot.B} {
		ss := st.Slots[x]
		j := slotJSON{Slot: x.String(), Empty: ss.Empty(), RollbackIndex: ss.RollbackIndex, Priority: ss.Priority, TriesLeft: ss.TriesLeft,
			Successful: ss.Successful, Bootable: st.Bootable(x), Why: st.Why(x)}
		if !ss.Empty() {
			j.Manifest = hex.EncodeToString(ss.Manifest[:])
			if _, m, err := s.Manifest(st, x); err != nil {
				j.Problem = err.Error()
			} else {
				j.Name, j.Version = m.Name, m.Version
			}
		}
		out.Slots = append(out.Slots, j)
	}
	return out
}

func bundleStatus(fs *flag.FlagSet) func(*ctx, []string) error {
	var sf slotFlags
	sf.register(fs)
	check := fs.Bool("verify", false, "also verify each installed slot's whole tree")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		s, err := sf.open()
		if err != nil {
			return err
		}
		st, err := s.Load()
		if err != nil {
			return &failure{msg: err.Error()}
		}
		j := stateJSON(s, st)
		ok := true
		verified := map[string]string{}
		if *check {
			for _, x := range []slot.Slot{slot.A, slot.B} {
				if st.Slots[x].Empty() {
					continue
				}
				_, m, err := s.Manifest(st, x)
				if err != nil {
					ok, verified[x.String()] = false, err.Error()
					continue
				}
				rep, err := s.Verify(x, m, verity.VerifyOptions{})
				if err != nil {
					return err
				}
				verified[x.String()] = "verified"
				if !rep.OK {
					ok, verified[x.String()] = false, strings.Join(rep.Problems, "; ")
				}
			}
		}
		for _, sj := range j.Slots {
			ok = ok && sj.Problem == ""
		}
		if c.json {
			if err := c.writeJSON(struct {
				statusJSON
				Verified map[string]string `json:"verified,omitempty"`
			}{j, verified}); err != nil {
				return err
			}
		} else {
			printStatus(c.stdout, j, verified)
		}
		if !ok {
			return &failure{}
		}
		return nil
	}
}

func printStatus(w io.Writer, j statusJSON, verified map[string]string) {
	root := ""
	if j.RootVersion > 0 {
		root = fmt.Sprintf(", trusted root v%d", j.RootVersion)
	}
	fmt.Fprintf(w, "Slots in %s: stored rollback index %d%s, state generation %d\n", j.Dir, j.RollbackIndex, root, j.Generation)
	fmt.Fprintf(w, "%-5s %-24s %-4s %-5s %-6s %-5s %s\n", "SLOT", "IMAGE", "RI", "PRIO", "TRIES", "GOOD", "BOOTABLE")
	for _, s := range j.Slots {
		img := "(empty)"
		if !s.Empty {
			img = s.Name + " " + s.Version
		}
		boot := "yes"
		if !s.Bootable {
			boot = "no: " + s.Why
		}
		var notes []string
		if s.Slot == j.Booted {
			notes = append(notes, "booted")
		}
		if s.Slot == j.Next {
			notes = append(notes, "boots next")
		}
		if v := verified[s.Slot]; v != "" {
			notes = append(notes, v)
		}
		if s.Problem != "" {
			notes = append(notes, "PROBLEM: "+s.Problem)
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, "; ") + ")"
		}
		good := map[bool]string{true: "yes", false: "no"}[s.Successful]
		fmt.Fprintf(w, "%-5s %-24s %-4d %-5d %-6d %-5s %s%s\n", s.Slot, img, s.RollbackIndex, s.Priority, s.TriesLeft, good, boot, note)
	}
	if j.Next == slot.None.String() {
		fmt.Fprintln(w, "No slot can boot.")
	}
}

// stateFailure turns a refused state change into exit 1.
func stateFailure(err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &failure{msg: err.Error()}
}

func bundleBoot(fs *flag.FlagSet) func(*ctx, []string) error {
	var sf slotFlags
	sf.register(fs)
	dataDev := fs.String("data-device", "", "data device as the kernel names it (default: the slot's path)")
	hashDev := fs.String("hash-device", "", "hash device as the kernel names it (default: the slot's path)")
	name := fs.String("name", "root", "device-mapper name for dm-mod.create")
	check := fs.Bool("verify", false, "verify the slot's whole tree before returning it")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		s, err := sf.open()
		if err != nil {
			return err
		}
		x, st, err := s.BootAttempt()
		if err != nil {
			return stateFailure(err)
		}
		_, m, err := s.Manifest(st, x)
		if err != nil {
			return &failure{msg: fmt.Sprintf("slot %s: %v", x, err)}
		}
		pl := s.Placement(x, m)
		if *check {
			rep, err := s.Verify(x, m, verity.VerifyOptions{})
			if err != nil {
				return err
			}
			if !rep.OK {
				return &failure{msg: fmt.Sprintf("slot %s does not verify: %s", x, strings.Join(rep.Problems, "; "))}
			}
		}
		table, err := pl.Table(m, *dataDev, *hashDev, verity.TableOptions{OnCorruption: "restart_on_corruption"})
		if err != nil {
			return err
		}
		create := fmt.Sprintf("dm-mod.create=\"%s,,,ro,%s\"", *name, table)
		ss := st.Slots[x]
		if c.json {
			return c.writeJSON(map[string]any{"slot": x.String(), "name": m.Name, "version": m.Version, "root_hash": m.Verity.RootHash,
				"data": pl.DataPath, "hash": pl.HashPath, "hash_start_block": pl.HashStart, "successful": ss.Successful, "tries_left": ss.TriesLeft,
				"table": table, "dm_mod_create": create})
		}
		state := "marked good"
		if !ss.Successful {
			state = fmt.Sprintf("trying, %d tries left after this boot", ss.TriesLeft)
		}
		fmt.Fprintf(c.stdout, "Boot slot %s: %s %s (%s)\n%s\n%s\n", x, m.Name, m.Version, state, table, create)
		return nil
	}
}

func bundleMarkGood(fs *flag.FlagSet) func(*ctx, []string) error {
	return slotChange(fs, (*slot.Slots).MarkGood, func(c *ctx, s *slot.Slots, x slot.Slot, st *slot.State) error {
		if c.json {
			return c.writeJSON(map[string]any{"slot": x.String(), "rollback_index": st.RollbackIndex, "state": stateJSON(s, st)})
		}
		fmt.Fprintf(c.stdout, "Slot %s marked good; stored rollback index is %d.\n", x, st.RollbackIndex)
		return nil
	})
}

func bundleRollback(fs *flag.FlagSet) func(*ctx, []string) error {
	return slotChange(fs, (*slot.Slots).Rollback, func(c *ctx, s *slot.Slots, x slot.Slot, st *slot.State) error {
		if c.json {
			return c.writeJSON(map[string]any{"next": x.String(), "state": stateJSON(s, st)})
		}
		fmt.Fprintf(c.stdout, "Slot %s boots next.\n", x)
		return nil
	})
}

// slotChange is a verb without arguments that applies one boot-state
// change to the slots and reports the new state.
func slotChange(fs *flag.FlagSet, change func(*slot.Slots) (slot.Slot, *slot.State, error),
	report func(c *ctx, s *slot.Slots, x slot.Slot, st *slot.State) error) func(*ctx, []string) error {
	var sf slotFlags
	sf.register(fs)
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		s, err := sf.open()
		if err != nil {
			return err
		}
		x, st, err := change(s)
		if err != nil {
			return stateFailure(err)
		}
		return report(c, s, x, st)
	}
}
