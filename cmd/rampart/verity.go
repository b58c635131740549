package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampart-sec/rampart/image/fsmap"
	"github.com/rampart-sec/rampart/verity"
)

func verityGroup() *group {
	return &group{
		name:    "verity",
		summary: "dm-verity hash trees: format, verify, repair, dump, sign (veritysetup-compatible)",
		verbs: []*verb{
			{name: "format", args: "DATA HASH", summary: "build the hash tree of DATA into HASH and print the root hash", setup: verityFormat,
				help: verityFormatHelp},
			{name: "verify", args: "DATA HASH [ROOTHASH]", summary: "check DATA and HASH against the root hash; print a corruption map", setup: verityVerify},
			{name: "repair", args: "DATA HASH [ROOTHASH]", summary: "rewrite damaged blocks from FEC parity, then verify", setup: verityRepair},
			{name: "table", args: "DATA HASH [ROOTHASH]", summary: "print the kernel dm-verity table and dm-mod.create= argument", setup: verityTable},
			{name: "dump", args: "HASH", summary: "print the verity superblock of HASH", setup: verityDump},
			{name: "sign", args: "[ROOTHASH]", summary: "sign a root hash (kernel PKCS#7 or Ed25519)", setup: veritySign},
		},
	}
}

const verityFormatHelp = `
Flags carry veritysetup's names; "rampart verity format" writes the same
bytes as "veritysetup format" given the same salt and UUID. Without --salt
or --seed the salt and UUID are random, as with veritysetup.`

// treeFlags are the tree parameters shared by format and verify.
type treeFlags struct {
	alg                          string
	format                       uint
	dataBlockSize, hashBlockSize uint
	dataBlocks                   uint64
	salt, uuid, seed             string
	noSuperblock                 bool
	hashOffset                   uint64
	fecDevice                    string
	fecOffset                    uint64
	fecRoots                     int
	rootHashFile                 string
}

func (f *treeFlags) register(fs *flag.FlagSet, formatting bool) {
	fs.StringVar(&f.alg, "hash", "", "hash algorithm: sha256, sha512 or sha1 (default sha256)")
	fs.UintVar(&f.format, "format", 1, "hash format: 1 normal, 0 original Chrome OS")
	fs.UintVar(&f.dataBlockSize, "data-block-size", 0, "data block size in bytes (default 4096)")
	fs.UintVar(&f.hashBlockSize, "hash-block-size", 0, "hash block size in bytes (default 4096)")
	fs.Uint64Var(&f.dataBlocks, "data-blocks", 0, "number of data blocks (default: whole blocks of DATA)")
	fs.StringVar(&f.salt, "salt", "", "salt in hex, or - for none (format default: 32 random bytes)")
	fs.BoolVar(&f.noSuperblock, "no-superblock", false, "no superblock: parameters come from flags")
	fs.Uint64Var(&f.hashOffset, "hash-offset", 0, "byte offset of the superblock or tree on HASH")
	fs.StringVar(&f.fecDevice, "fec-device", "", "file holding Reed-Solomon parity")
	fs.Uint64Var(&f.fecOffset, "fec-offset", 0, "byte offset of the parity on the FEC device")
	fs.IntVar(&f.fecRoots, "fec-roots", 2, "parity bytes per codeword, 2 to 24")
	fs.StringVar(&f.rootHashFile, "root-hash-file", "", "file holding the root hash in hex")
	if formatting {
		fs.StringVar(&f.uuid, "uuid", "", "UUID for the superblock (default random)")
		fs.StringVar(&f.seed, "seed", "", "derive salt and UUID from this seed (HMAC-SHA256): reproducible builds")
	}
}

// params builds verity parameters. Zero means "unset" for verify with a
// superblock; formatting fills veritysetup's defaults.
func (f *treeFlags) params(formatting bool) (verity.Params, error) {
	p := verity.Params{HashType: uint32(f.format), Algorithm: strings.ToLower(f.alg),
		DataBlockSize: uint32(f.dataBlockSize), HashBlockSize: uint32(f.hashBlockSize), DataBlocks: f.dataBlocks}
	if f.format > 1 {
		return p, usagef("--format %d: want 0 or 1", f.format)
	}
	if formatting || f.noSuperblock {
		def := verity.DefaultParams()
		if p.Algorithm == "" {
			p.Algorithm = def.Algorithm
		}
		if p.DataBlockSize == 0 {
			p.DataBlockSize = def.DataBlockSize
		}
		if p.HashBlockSize == 0 {
			p.HashBlockSize = def.HashBlockSize
		}
	}
	if f.seed != "" && (f.salt != "" || f.uuid != "") {
		return p, usagef("--seed derives salt and UUID: give it without --salt and --uuid")
	}
	switch {
	case f.seed != "":
		if err := p.FromSeed([]byte(f.seed)); err != nil {
			return p, usagef("--seed: %v", err)
		}
	case f.salt != "":
		s, err := verity.ParseSalt(f.salt)
		if err != nil {
			return p, usagef("--salt: %v", err)
		}
		p.Salt = s
		if p.Salt == nil {
			p.Salt = []byte{}
		}
	case formatting:
		if err := p.Randomize(); err != nil {
			return p, err
		}
	}
	if f.uuid != "" {
		u, err := verity.ParseUUID(f.uuid)
		if err != nil {
			return p, usagef("--uuid: %v", err)
		}
		p.UUID = u
	} else if formatting && f.seed == "" {
		if err := p.RandomUUID(); err != nil {
			return p, err
		}
	}
	return p, nil
}

// device builds the device and root hash of "DATA HASH [ROOTHASH]"
// arguments, shared by verify, repair and table.
func (f *treeFlags) device(args []string) (*verity.Device, []byte, error) {
	if err := wantArgs(args, 2, 3, "DATA HASH [ROOTHASH]"); err != nil {
		return nil, nil, err
	}
	root, err := rootHash(args, f.rootHashFile)
	if err != nil {
		return nil, nil, err
	}
	p, err := f.params(false)
	if err != nil {
		return nil, nil, err
	}
	return &verity.Device{DataPath: args[0], HashPath: args[1], Params: p, Layout: f.layout()}, root, nil
}

func (f *treeFlags) layout() verity.Layout {
	l := verity.Layout{HashOffset: f.hashOffset, NoSuperblock: f.noSuperblock}
	if f.fecDevice != "" {
		l.FECPath, l.FECOffset, l.FECRoots = f.fecDevice, f.fecOffset, f.fecRoots
	}
	return l
}

// progress returns a progress callback printing to stderr when it is a
// terminal, or nil.
func (c *ctx) progress(what string) func(done, total uint64) {
	if !isTerminal(c.stderr) {
		return nil
	}
	last := -1
	return func(done, total uint64) {
		if total == 0 {
			return
		}
		pct := int(done * 100 / total)
		if pct != last {
			last = pct
			fmt.Fprintf(c.stderr, "\r%s %3d%%", what, pct)
			if done >= total {
				fmt.Fprintln(c.stderr)
			}
		}
	}
}

func verityFormat(fs *flag.FlagSet) func(*ctx, []string) error {
	var f treeFlags
	f.register(fs, true)
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 2, 2, "DATA HASH"); err != nil {
			return err
		}
		p, err := f.params(true)
		if err != nil {
			return err
		}
		d := &verity.Device{DataPath: args[0], HashPath: args[1], Params: p, Layout: f.layout()}
		res, err := d.Format(&verity.Options{Progress: c.progress("hashing")})
		if err != nil {
			return err
		}
		if f.rootHashFile != "" {
			if err := os.WriteFile(f.rootHashFile, []byte(res.RootHashHex()), 0o644); err != nil {
				return err
			}
		}
		if c.json {
			return c.writeJSON(formatJSON(res, args[1]))
		}
		printHeader(c.stdout, args[1], &res.Params, res.Geometry, res.Layout.NoSuperblock)
		fmt.Fprintf(c.stdout, "Root hash:      \t%s\n", res.RootHashHex())
		fmt.Fprintf(c.stdout, "Hash device size: \t%d [bytes]\n", res.HashDeviceSize)
		if res.FECBlocks > 0 {
			fmt.Fprintf(c.stdout, "FEC blocks:      \t%d\n", res.FECBlocks)
		}
		return nil
	}
}

// paramsJSON is the machine form of tree parameters.
type paramsJSON struct {
	UUID          string `json:"uuid,omitempty"`
	HashType      uint32 `json:"hash_type"`
	Algorithm     string `json:"hash_algorithm"`
	DataBlocks    uint64 `json:"data_blocks"`
	DataBlockSize uint32 `json:"data_block_size"`
	HashBlocks    uint64 `json:"hash_blocks"`
	HashBlockSize uint32 `json:"hash_block_size"`
	Salt          string `json:"salt"`
	HashStart     uint64 `json:"hash_start_block"`
	Levels        int    `json:"levels"`
}

func paramsToJSON(p *verity.Params, g *verity.Geometry, noSB bool) paramsJSON {
	j := paramsJSON{HashType: p.HashType, Algorithm: p.Algorithm, DataBlocks: p.DataBlocks,
		DataBlockSize: p.DataBlockSize, HashBlocks: g.HashBlocks(), HashBlockSize: p.HashBlockSize,
		Salt: p.SaltHex(), HashStart: g.HashStart, Levels: len(g.Levels)}
	if !noSB {
		j.UUID = p.UUIDString()
	}
	return j
}

func formatJSON(res *verity.Result, hashPath string) any {
	return struct {
		HashDevice string `json:"hash_device"`
		paramsJSON
		RootHash       string `json:"root_hash"`
		HashDeviceSize int64  `json:"hash_device_size"`
		FECBlocks      uint64 `json:"fec_blocks,omitempty"`
		FECRoots       int    `json:"fec_roots,omitempty"`
	}{hashPath, paramsToJSON(&res.Params, res.Geometry, res.Layout.NoSuperblock), res.RootHashHex(), res.HashDeviceSize, res.FECBlocks, res.Layout.FECRoots}
}

// printHeader prints parameters the way veritysetup does.
func printHeader(w io.Writer, name string, p *verity.Params, g *verity.Geometry, noSB bool) {
	uuid := ""
	if !noSB {
		uuid = p.UUIDString()
	}
	fmt.Fprintf(w, "VERITY header information for %s\n", name)
	fmt.Fprintf(w, "UUID:            \t%s\n", uuid)
	fmt.Fprintf(w, "Hash type:       \t%d\n", p.HashType)
	fmt.Fprintf(w, "Data blocks:     \t%d\n", p.DataBlocks)
	fmt.Fprintf(w, "Data block size: \t%d\n", p.DataBlockSize)
	fmt.Fprintf(w, "Hash blocks:     \t%d\n", g.HashBlocks())
	fmt.Fprintf(w, "Hash block size: \t%d\n", p.HashBlockSize)
	fmt.Fprintf(w, "Hash algorithm:  \t%s\n", p.Algorithm)
	fmt.Fprintf(w, "Salt:            \t%s\n", p.SaltHex())
}

// rootHash takes the root hash from the third argument or --root-hash-file.
func rootHash(args []string, file string) ([]byte, error) {
	var s string
	switch {
	case len(args) == 3 && file != "":
		return nil, usagef("give the root hash as an argument or with --root-hash-file, not both")
	case len(args) == 3:
		s = args[2]
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(string(b))
	default:
		return nil, usagef("missing ROOTHASH (or --root-hash-file)")
	}
	r, err := verity.ParseRootHash(s)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return r, nil
}

func verityVerify(fs *flag.FlagSet) func(*ctx, []string) error {
	var f treeFlags
	f.register(fs, false)
	firstError := fs.Bool("first-error", false, "stop at the first problem")
	files := fs.Bool("files", false, "name the files owning damaged data blocks (ext2/3/4 images; needs debugfs)")
	var sig sigFlags
	sig.register(fs)
	return func(c *ctx, args []string) error {
		d, root, err := f.device(args)
		if err != nil {
			return err
		}
		var sigResult *sigCheck
		if sig.signature != "" {
			if sigResult, err = sig.check(hex.EncodeToString(root)); err != nil {
				return err
			}
		}
		rep, err := d.Verify(root, &verity.VerifyOptions{FirstError: *firstError, Options: verity.Options{Progress: c.progress("verifying")}})
		if err != nil {
			return err
		}
		if d.Layout.FECPath != "" {
			if err := d.CheckFEC(rep, root); err != nil {
				return err
			}
		}
		if *files {
			if err := mapFiles(d, rep); err != nil {
				return err
			}
		}
		ok := rep.OK && (sigResult == nil || sigResult.OK)
		if c.json {
			if err := c.writeJSON(struct {
				OK        bool      `json:"ok"`
				Signature *sigCheck `json:"signature,omitempty"`
				*verity.Report
			}{ok, sigResult, rep}); err != nil {
				return err
			}
		} else {
			printReport(c.stdout, d, rep, sigResult)
		}
		if !ok {
			return &failure{}
		}
		return nil
	}
}

func printReport(w io.Writer, d *verity.Device, rep *verity.Report, sig *sigCheck) {
	if sig != nil {
		if sig.OK {
			fmt.Fprintf(w, "Root hash signature: good (%s, %s)\n", sig.Type, sig.Signer)
		} else {
			fmt.Fprintf(w, "Root hash signature: BAD (%s): %s\n", sig.Type, sig.Error)
		}
	}
	if rep.OK {
		fmt.Fprintf(w, "Verified %d data blocks and %d hash blocks: root hash %s matches.\n", rep.DataBlocks, rep.HashBlocks, rep.RootHash)
		return
	}
	fmt.Fprintf(w, "Verification FAILED: %d problem(s) in %s (data) and %s (hash)\n", len(rep.Problems)+rep.Omitted, d.DataPath, d.HashPath)
	fmt.Fprintf(w, "%-20s %-5s %-6s %-10s %-12s %s\n", "KIND", "DEV", "LEVEL", "BLOCK", "OFFSET", "DETAIL")
	for _, p := range rep.Problems {
		level := "-"
		if p.Device == verity.DeviceHash && p.Level >= 0 {
			level = fmt.Sprint(p.Level)
		}
		fix := ""
		if p.Correctable != nil {
			fix = map[bool]string{true: " [correctable by FEC]", false: " [NOT correctable by FEC]"}[*p.Correctable]
		}
		fmt.Fprintf(w, "%-20s %-5s %-6s %-10d %-12d %s%s\n", p.Kind, p.Device, level, p.Block, p.Offset, p.Detail, fix)
		if p.Expected != "" {
			fmt.Fprintf(w, "%52s expected %s\n%52s actual   %s\n", "", p.Expected, "", p.Actual)
		}
		if len(p.Files) > 0 {
			fmt.Fprintf(w, "%52s in %s\n", "", strings.Join(p.Files, ", "))
		}
	}
	if rep.Omitted > 0 {
		fmt.Fprintf(w, "... and %d more problem(s) not listed\n", rep.Omitted)
	}
	if rep.Stopped {
		fmt.Fprintln(w, "Stopped at the first error (--first-error).")
	}
}

func verityDump(fs *flag.FlagSet) func(*ctx, []string) error {
	hashOffset := fs.Uint64("hash-offset", 0, "byte offset of the superblock on HASH")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 1, 1, "HASH"); err != nil {
			return err
		}
		p, err := verity.ReadSuperblock(args[0], *hashOffset)
		if err != nil {
			return err
		}
		g, err := p.Geometry(verity.HashStartBlock(*hashOffset, p.HashBlockSize, false))
		if err != nil {
			return err
		}
		size := int64(g.End) * int64(p.HashBlockSize)
		if c.json {
			return c.writeJSON(struct {
				HashDevice string `json:"hash_device"`
				paramsJSON
				HashDeviceSize int64 `json:"hash_device_size"`
			}{args[0], paramsToJSON(p, g, false), size})
		}
		printHeader(c.stdout, args[0], p, g, false)
		fmt.Fprintf(c.stdout, "Hash device size: \t%d [bytes]\n", size)
		return nil
	}
}

func verityRepair(fs *flag.FlagSet) func(*ctx, []string) error {
	var f treeFlags
	f.register(fs, false)
	return func(c *ctx, args []string) error {
		d, root, err := f.device(args)
		if err != nil {
			return err
		}
		if f.fecDevice == "" {
			return usagef("repair needs --fec-device")
		}
		res, err := d.Repair(root, &verity.Options{Progress: c.progress("verifying")})
		if err != nil {
			return err
		}
		ok := res.Refused == "" && (res.After == nil || res.After.OK)
		if c.json {
			if err := c.writeJSON(struct {
				OK bool `json:"ok"`
				*verity.RepairResult
			}{ok, res}); err != nil {
				return err
			}
		} else {
			switch {
			case res.Before.OK:
				fmt.Fprintln(c.stdout, "Nothing to repair: the device verifies.")
			case res.Refused != "":
				printReport(c.stdout, d, res.Before, nil)
				fmt.Fprintf(c.stdout, "Repair REFUSED, nothing written: %s\n", res.Refused)
			default:
				for _, p := range res.Repaired {
					fmt.Fprintf(c.stdout, "repaired %s block %d at byte %d (%s)\n", p.Device, p.Block, p.Offset, p.Kind)
				}
				fmt.Fprintf(c.stdout, "Repaired %d block(s); the device now verifies against %s.\n", len(res.Repaired), res.Before.RootHash)
			}
		}
		if !ok {
			return &failure{}
		}
		return nil
	}
}

func verityTable(fs *flag.FlagSet) func(*ctx, []string) error {
	var f treeFlags
	f.register(fs, false)
	dataDev := fs.String("data-device", "", "data device as the kernel sees it (default: DATA)")
	hashDev := fs.String("hash-device", "", "hash device as the kernel sees it (default: HASH)")
	fecDev := fs.String("fec-kernel-device", "", "FEC device as the kernel sees it (default: --fec-device)")
	name := fs.String("name", "root", "device-mapper name for dm-mod.create")
	onCorruption := fs.String("on-corruption", "", "ignore, restart or panic (default: return I/O errors)")
	ignoreZero := fs.Bool("ignore-zero-blocks", false, "do not verify zeroed blocks")
	once := fs.Bool("check-at-most-once", false, "verify each data block only the first time it is read")
	keyDesc := fs.String("root-hash-sig-key-desc", "", "keyring description of the root-hash signature key")
	return func(c *ctx, args []string) error {
		d, root, err := f.device(args)
		if err != nil {
			return err
		}
		if err := d.LoadParams(); err != nil {
			return err
		}
		o := verity.TableOptions{IgnoreZeroBlocks: *ignoreZero, CheckAtMostOnce: *once, SignatureKeyDesc: *keyDesc}
		if *onCorruption != "" {
			o.OnCorruption = *onCorruption + "_on_corruption"
			if *onCorruption == "ignore" {
				o.OnCorruption = "ignore_corruption"
			}
		}
		hs := d.Layout.HashStart(&d.Params)
		if f.fecDevice != "" {
			st, err := os.Stat(args[1])
			if err != nil {
				return err
			}
			o.FECDevice = *fecDev
			if o.FECDevice == "" {
				o.FECDevice = f.fecDevice
			}
			o.FECRoots = f.fecRoots
			o.FECStart = f.fecOffset / uint64(d.Params.HashBlockSize)
			o.FECBlocks = d.Params.FECCoverage(hs, st.Size(), f.fecOffset, f.fecDevice == args[1])
		}
		dd, hd := *dataDev, *hashDev
		if dd == "" {
			dd = args[0]
		}
		if hd == "" {
			hd = args[1]
		}
		table, err := d.Params.Table(dd, hd, hs, root, o)
		if err != nil {
			return usagef("%v", err)
		}
		create := fmt.Sprintf("dm-mod.create=\"%s,,,ro,%s\"", *name, table)
		if c.json {
			return c.writeJSON(map[string]string{"table": table, "dm_mod_create": create})
		}
		fmt.Fprintln(c.stdout, table)
		fmt.Fprintln(c.stdout, create)
		return nil
	}
}

// mapFiles names the files that own damaged data blocks.
func mapFiles(d *verity.Device, rep *verity.Report) error {
	var offs []int64
	for _, p := range rep.Problems {
		if p.Device == verity.DeviceData && p.Kind != verity.Truncated {
			offs = append(offs, p.Offset)
		}
	}
	if len(offs) == 0 {
		return nil
	}
	owners, err := fsmap.Ext4(context.Background(), d.DataPath, int64(d.Params.DataBlockSize), offs)
	if err != nil {
		return fmt.Errorf("--files: %w", err)
	}
	for i := range rep.Problems {
		p := &rep.Problems[i]
		if p.Device != verity.DeviceData {
			continue
		}
		for _, o := range owners[p.Offset] {
			name := o.Path
			if name == "" {
				name = o.What
			}
			p.Files = append(p.Files, name)
		}
	}
	return nil
}
