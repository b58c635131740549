package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/image/bundle"
	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
	"github.com/rampart-sec/rampart/verity/rootsig"
)

func imageGroup() *group {
	return &group{
		name:    "image",
		summary: "sealed images: dm-verity tree plus a signed manifest (seal, verify, inspect)",
		verbs: []*verb{
			{name: "keygen", args: "", summary: "make an Ed25519 signing key pair (PREFIX.key, PREFIX.pub)", setup: imageKeygen},
			{name: "seal", args: "IMAGE", summary: "build the hash tree of IMAGE and write its signed manifest", setup: imageSeal, help: imageSealHelp},
			{name: "sign", args: "FILE", summary: "add signatures to a manifest or root metadata", setup: imageSign},
			{name: "verify", args: "IMAGE MANIFEST", summary: "check the signatures, the parameters and the whole tree of a sealed image", setup: imageVerify},
			{name: "inspect", args: "FILE", summary: "describe a manifest, root metadata or bundle", setup: imageInspect},
			initramfsVerb,
		},
	}
}

const imageSealHelp = `
Writes, beside IMAGE.ext: IMAGE.verity (superblock, tree, parity),
IMAGE.manifest.json (signed manifest), IMAGE.roothash and, with --cert,
IMAGE.roothash.p7s (the kernel's PKCS#7 signature of the root hash).
With --seed the output is reproducible: the salt and UUID derive from the
seed and the manifest carries no time unless SOURCE_DATE_EPOCH is set.`

// repeatedFlag collects a flag given several times.
type repeatedFlag []string

func (l *repeatedFlag) String() string     { return strings.Join(*l, ",") }
func (l *repeatedFlag) Set(v string) error { *l = append(*l, v); return nil }

// trustFlags select what a verifier trusts.
type trustFlags struct {
	trust     string
	threshold int
	cert      string
}

func (t *trustFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.trust, "trust", "", "root metadata (JSON) or PEM file of Ed25519 public keys to trust")
	fs.IntVar(&t.threshold, "threshold", 1, "with plain keys: how many must have signed")
	fs.StringVar(&t.cert, "cert", "", "PEM certificates trusted for the kernel PKCS#7 root-hash signature (then required)")
}

// load returns the trust anchor (nil without --trust), its envelope when
// it is signed root metadata, and the certificates.
func (t *trustFlags) load(now time.Time) (*trust.Root, *trust.Envelope, []*x509.Certificate, error) {
	var certs []*x509.Certificate
	if t.cert != "" {
		var err error
		if certs, err = rootsig.LoadCertificates(t.cert); err != nil {
			return nil, nil, nil, err
		}
	}
	if t.trust == "" {
		return nil, nil, certs, nil
	}
	root, env, err := trust.LoadTrust(t.trust, t.threshold, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return root, env, certs, nil
}

func loadKeys(paths []string) ([]ed25519.PrivateKey, error) {
	var keys []ed25519.PrivateKey
	for _, p := range paths {
		k, err := trust.LoadPrivateKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func imageKeygen(fs *flag.FlagSet) func(*ctx, []string) error {
	out := fs.String("out", "", "file name prefix: writes PREFIX.key (private, mode 0600) and PREFIX.pub (required)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		if *out == "" {
			return usagef("--out PREFIX is required")
		}
		priv, err := trust.GenerateKey(nil)
		if err != nil {
			return err
		}
		kb, err := trust.EncodePrivateKey(priv)
		if err != nil {
			return err
		}
		pb, err := trust.EncodePublicKey(priv.Public().(ed25519.PublicKey))
		if err != nil {
			return err
		}
		// O_EXCL: never overwrite a key.
		for _, f := range []struct {
			path string
			b    []byte
			mode os.FileMode
		}{{*out + ".key", kb, 0o600}, {*out + ".pub", pb, 0o644}} {
			w, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
			if err != nil {
				return err
			}
			if _, err := w.Write(f.b); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
		id := trust.KeyID(priv.Public().(ed25519.PublicKey))
		if c.json {
			return c.writeJSON(map[string]string{"key_id": id, "private": *out + ".key", "public": *out + ".pub"})
		}
		fmt.Fprintf(c.stdout, "Wrote %s.key and %s.pub: Ed25519 key %s\n", *out, *out, id)
		return nil
	}
}

func imageSeal(fs *flag.FlagSet) func(*ctx, []string) error {
	var keys repeatedFlag
	fs.Var(&keys, "key", "Ed25519 release `key` (PEM) to sign the manifest with; repeat for several (required)")
	ver := fs.String("version", "", "semantic version of the image, e.g. 1.4.2 (required)")
	ri := fs.Uint64("rollback-index", 0, "anti-rollback index: nodes refuse images below the index they stored")
	target := fs.String("target", manifest.TargetGuest, "kind of node: guest or host")
	name := fs.String("name", "", "image name (default: IMAGE's file name without extension)")
	seed := fs.String("seed", "", "derive salt and UUID from this seed: reproducible output")
	fecRoots := fs.Int("fec-roots", 0, "add Reed-Solomon parity with this many roots (2 to 24; 0: none)")
	cert := fs.String("cert", "", "X.509 certificate (PEM) for the kernel PKCS#7 root-hash signature")
	p7key := fs.String("pkcs7-key", "", "private key (PEM) of --cert")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "IMAGE"); err != nil {
			return err
		}
		if len(keys) == 0 || *ver == "" {
			return usagef("--key and --version are required")
		}
		if (*cert == "") != (*p7key == "") {
			return usagef("--cert and --pkcs7-key go together")
		}
		o := &manifest.SealOptions{Name: *name, Version: *ver, RollbackIndex: *ri, Target: *target,
			FECRoots: *fecRoots, Tool: "rampart", ToolVersion: version}
		var err error
		if o.Keys, err = loadKeys(keys); err != nil {
			return err
		}
		if *seed != "" {
			o.Seed = []byte(*seed)
		}
		if o.Time, err = manifest.CreationTime(os.Getenv("SOURCE_DATE_EPOCH"), *seed != "", time.Now()); err != nil {
			return usagef("%v", err)
		}
		if *cert != "" {
			if o.Cert, o.CertKey, err = rootsig.LoadKeyPair(*cert, *p7key); err != nil {
				return err
			}
		}
		o.Verity.Progress = c.progress("hashing")
		s, err := manifest.Seal(args[0], o)
		if err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"manifest": s.Manifest, "files": s.Files, "key_ids": keyIDs(s.Envelope)})
		}
		m := s.Manifest
		fmt.Fprintf(c.stdout, "Sealed %s %s (rollback index %d, %s): root hash %s\n", m.Name, m.Version, m.RollbackIndex, m.Target, m.Verity.RootHash)
		fmt.Fprintf(c.stdout, "  tree      %s\n  manifest  %s (signed by %s)\n", s.Files.Hash, s.Files.Manifest, strings.Join(keyIDs(s.Envelope), ", "))
		if m.RootHashPKCS7 != "" {
			fmt.Fprintf(c.stdout, "  kernel    %s\n", s.Files.PKCS7)
		}
		return nil
	}
}

func keyIDs(env *trust.Envelope) []string {
	ids := []string{}
	for _, s := range env.Signatures {
		ids = append(ids, s.KeyID)
	}
	return ids
}

func imageSign(fs *flag.FlagSet) func(*ctx, []string) error {
	var keys repeatedFlag
	fs.Var(&keys, "key", "Ed25519 `key` (PEM) to sign with; repeat for several (required)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "FILE"); err != nil {
			return err
		}
		if len(keys) == 0 {
			return usagef("--key is required")
		}
		env, err := trust.ReadEnvelope(args[0])
		if err != nil {
			return err
		}
		typ, _ := env.Type()
		switch typ {
		case manifest.Type:
			_, err = manifest.Parse(env)
		case trust.TypeRoot:
			_, err = trust.ParseRoot(env)
		default:
			err = fmt.Errorf("a %q document: this signs manifests and root metadata", typ)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		ks, err := loadKeys(keys)
		if err != nil {
			return err
		}
		for _, k := range ks {
			env.Sign(k)
		}
		if err := env.WriteFile(args[0]); err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"file": args[0], "type": typ, "key_ids": keyIDs(env)})
		}
		fmt.Fprintf(c.stdout, "%s (%s) is now signed by %d key(s): %s\n", args[0], typ, len(env.Signatures), strings.Join(keyIDs(env), ", "))
		return nil
	}
}

func imageVerify(fs *flag.FlagSet) func(*ctx, []string) error {
	var tf trustFlags
	tf.register(fs)
	hashPath := fs.String("hash", "", "hash file (default: the manifest's, beside it)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 2, 2, "IMAGE MANIFEST"); err != nil {
			return err
		}
		if tf.trust == "" {
			return usagef("--trust is required")
		}
		now := time.Now()
		root, _, certs, err := tf.load(now)
		if err != nil {
			return err
		}
		env, err := trust.ReadEnvelope(args[1])
		if err != nil {
			return failOrUsage(c, err)
		}
		hp := *hashPath
		if hp == "" {
			if _, m, err := manifest.Load(args[1]); err == nil {
				hp = siblingPath(args[1], m.Verity.HashFile)
			}
		}
		m, rep, err := manifest.Verify(env, args[0], hp, &manifest.VerifyOptions{Trust: root, Now: now, Certs: certs,
			Verity: verity.VerifyOptions{Options: verity.Options{Progress: c.progress("verifying")}}})
		if err != nil {
			return err
		}
		if c.json {
			if err := c.writeJSON(struct {
				*manifest.Report
				Manifest *manifest.Manifest `json:"manifest,omitempty"`
			}{rep, m}); err != nil {
				return err
			}
		} else {
			printImageReport(c.stdout, m, rep, &verity.Device{DataPath: args[0], HashPath: hp})
		}
		if !rep.OK {
			return &failure{}
		}
		return nil
	}
}

// failOrUsage turns an unreadable signed file into a failed check when it
// exists (its bytes were refused), a usage error when it does not.
func failOrUsage(c *ctx, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return err
	}
	if c.json {
		c.writeJSON(map[string]any{"ok": false, "problems": []string{err.Error()}})
	}
	return &failure{msg: err.Error()}
}

// siblingPath names a file beside another.
func siblingPath(beside, name string) string {
	if i := strings.LastIndexByte(beside, '/'); i >= 0 {
		return beside[:i+1] + name
	}
	return name
}

func printSignatures(w io.Writer, res *trust.Result) {
	if res == nil {
		return
	}
	fmt.Fprintf(w, "Signatures: %d valid of %d required (%s role, root v%d): %s\n", len(res.Signers), res.Threshold, res.Role, res.RootVersion, strings.Join(res.Signers, ", "))
	for _, r := range res.Rejected {
		fmt.Fprintf(w, "  not counted: key %s: %s\n", r.KeyID, r.Reason)
	}
}

// printImageReport prints a verification in words; tree problems as the
// verity engine's corruption map.
func printImageReport(w io.Writer, m *manifest.Manifest, rep *manifest.Report, d *verity.Device) {
	if m != nil {
		fmt.Fprintf(w, "Image %s %s (rollback index %d, %s)\n", m.Name, m.Version, m.RollbackIndex, m.Target)
	}
	printSignatures(w, rep.Signatures)
	if rep.PKCS7 != "" {
		fmt.Fprintf(w, "Kernel root-hash signature: %s\n", rep.PKCS7)
	}
	if rep.Tree != nil {
		printReport(w, d, rep.Tree, nil)
	}
	for _, p := range rep.Problems {
		if !strings.HasPrefix(p, "hash tree:") {
			fmt.Fprintf(w, "FAILED: %s\n", p)
		}
	}
	if rep.OK {
		fmt.Fprintln(w, "OK")
	}
}

func imageInspect(fs *flag.FlagSet) func(*ctx, []string) error {
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "FILE"); err != nil {
			return err
		}
		b, err := readHead(args[0])
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte("RPBUNDLE")) {
			return inspectBundle(c, args[0])
		}
		env, err := trust.ReadEnvelope(args[0])
		if err != nil {
			return err
		}
		typ, _ := env.Type()
		switch typ {
		case manifest.Type:
			m, err := manifest.Parse(env)
			if err != nil {
				return err
			}
			return inspectManifest(c, env, m, args[0])
		case trust.TypeRoot:
			r, err := trust.ParseRoot(env)
			if err != nil {
				return err
			}
			if c.json {
				return c.writeJSON(map[string]any{"kind": "root", "root": r, "signatures": keyIDs(env)})
			}
			printRoot(c.stdout, r, env)
			return nil
		}
		return fmt.Errorf("%s: a %q document, not a manifest, root or bundle", args[0], typ)
	}
}

// readHead returns the first bytes of a file.
func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 8)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// manifestFacts is the JSON of an inspected manifest.
type manifestFacts struct {
	Kind        string             `json:"kind"`
	Manifest    *manifest.Manifest `json:"manifest"`
	Signatures  []string           `json:"signatures"`
	Digest      string             `json:"manifest_sha256"`
	Veritysetup []string           `json:"veritysetup_verify"`
	Table       string             `json:"table"`
}

func manifestInfo(env *trust.Envelope, m *manifest.Manifest, manifestPath string) manifestFacts {
	img, hash := siblingPath(manifestPath, m.Image.File), siblingPath(manifestPath, m.Verity.HashFile)
	fecStart := uint64(0)
	if m.FEC != nil {
		fecStart = m.FEC.Offset / uint64(m.Verity.HashBlockSize)
	}
	table, _ := m.Table(img, hash, m.Verity.HashStartBlock, fecStart, verity.TableOptions{})
	d := manifest.Digest(env)
	return manifestFacts{Kind: "manifest", Manifest: m, Signatures: keyIDs(env), Digest: hex.EncodeToString(d[:]),
		Veritysetup: append([]string{"veritysetup"}, m.VeritysetupArgs(img, hash)...), Table: table}
}

func inspectManifest(c *ctx, env *trust.Envelope, m *manifest.Manifest, path string) error {
	f := manifestInfo(env, m, path)
	if c.json {
		return c.writeJSON(f)
	}
	printManifest(c.stdout, f, true)
	return nil
}

// printManifest describes a manifest in words; withFiles adds how to
// check and map the files beside it.
func printManifest(w io.Writer, f manifestFacts, withFiles bool) {
	m := f.Manifest
	v := &m.Verity
	fmt.Fprintf(w, "Image %s %s for %s nodes, rollback index %d\n", m.Name, m.Version, m.Target, m.RollbackIndex)
	fmt.Fprintf(w, "  image     %s: %d bytes, %d data blocks of %d bytes\n", m.Image.File, m.Image.Size, v.DataBlocks, v.DataBlockSize)
	sb := "no superblock"
	if v.Superblock {
		sb = fmt.Sprintf("superblock at byte %d", v.HashOffset)
	}
	fmt.Fprintf(w, "  tree      %s: %s, format %d, %d hash blocks of %d bytes from block %d, %s\n", v.HashFile, v.Algorithm, v.Format, v.HashBlocks, v.HashBlockSize, v.HashStartBlock, sb)
	salt := v.Salt
	if salt == "" {
		salt = "(none)"
	}
	fmt.Fprintf(w, "  salt      %s\n  uuid      %s\n  root hash %s\n", salt, v.UUID, v.RootHash)
	if m.FEC != nil {
		fmt.Fprintf(w, "  parity    Reed-Solomon, %d roots: %d blocks at byte %d of %s, covering %d blocks, sha256 %s\n", m.FEC.Roots, m.FEC.Blocks, m.FEC.Offset, v.HashFile, m.FEC.CoveredBlocks, m.FEC.SHA256)
	} else {
		fmt.Fprintln(w, "  parity    none")
	}
	if m.RootHashPKCS7 != "" {
		fmt.Fprintf(w, "  kernel    PKCS#7 root-hash signature, %d bytes\n", len(m.PKCS7()))
	} else {
		fmt.Fprintln(w, "  kernel    no PKCS#7 root-hash signature")
	}
	when := "no time recorded (reproducible build)"
	if m.CreatedBy.Time != "" {
		when = "at " + m.CreatedBy.Time
	}
	fmt.Fprintf(w, "  created   by %s %s, %s\n", m.CreatedBy.Tool, m.CreatedBy.Version, when)
	fmt.Fprintf(w, "  signed    by %d key(s): %s\n", len(f.Signatures), strings.Join(f.Signatures, ", "))
	fmt.Fprintf(w, "  manifest  sha256 %s\n", f.Digest)
	if withFiles {
		fmt.Fprintf(w, "Check with:  %s\n", strings.Join(f.Veritysetup, " "))
		fmt.Fprintf(w, "Kernel table: %s\n", f.Table)
	}
}

func printRoot(w io.Writer, r *trust.Root, env *trust.Envelope) {
	fmt.Fprintf(w, "Root metadata v%d, expires %s, signed by %d key(s): %s\n", r.Version, r.Expires, len(env.Signatures), strings.Join(keyIDs(env), ", "))
	for _, name := range []string{trust.RoleRoot, trust.RoleRelease} {
		ro := r.Roles[name]
		fmt.Fprintf(w, "  %-8s %d of %d keys:\n", name, ro.Threshold, len(ro.KeyIDs))
		for _, id := range ro.KeyIDs {
			note := ""
			if k := r.Keys[id]; k.Expires != "" {
				note = " (expires " + k.Expires + ")"
			}
			for _, x := range r.Revoked {
				if x == id {
					note += " (REVOKED)"
				}
			}
			fmt.Fprintf(w, "    %s%s\n", id, note)
		}
	}
	if len(r.Revoked) > 0 {
		fmt.Fprintf(w, "  revoked  %s\n", strings.Join(r.Revoked, ", "))
	}
}

func inspectBundle(c *ctx, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := bundle.ReadHead(f)
	if err != nil {
		return &failure{msg: fmt.Sprintf("%s: %v", path, err)}
	}
	var versions []uint64
	for _, env := range b.Roots {
		if r, err := trust.ParseRoot(env); err == nil {
			versions = append(versions, r.Version)
		}
	}
	h := b.Header
	mf := manifestInfo(b.Envelope, b.Manifest, path)
	if c.json {
		return c.writeJSON(map[string]any{"kind": "bundle", "header": map[string]uint64{"metadata": h.MetadataLen, "payload_offset": h.PayloadOffset(),
			"tree": h.TreeLen, "image": h.ImageLen, "parity": h.FECLen, "size": h.Size()}, "root_versions": versions, "manifest": b.Manifest,
			"signatures": mf.Signatures, "manifest_sha256": mf.Digest})
	}
	fmt.Fprintf(c.stdout, "Bundle %s: %d bytes; metadata %d bytes; payload at byte %d: tree %d, image %d, parity %d bytes; root chain %v\n",
		path, h.Size(), h.MetadataLen, h.PayloadOffset(), h.TreeLen, h.ImageLen, h.FECLen, versions)
	printManifest(c.stdout, mf, false)
	return nil
}
