package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-sec/rampart/boot"
)

// initramfsVerb is "rampart image initramfs": the initramfs of
// rampart-init (see package boot and docs/boot.md).
var initramfsVerb = &verb{name: "initramfs", args: "", summary: "build the initramfs (newc cpio) of rampart-init: init, keys, boot config, policy, kernel modules",
	setup: imageInitramfs, help: imageInitramfsHelp}

const imageInitramfsHelp = `
The boot configuration (--config) is JSON: state_device, slots [A, B],
fstype (erofs, squashfs, ext4), on_corruption (restart_on_corruption or
panic_on_corruption), init, selinux_enforce, on_failure (poweroff, halt,
reboot), threshold, device_timeout_seconds. Modules are taken from
/lib/modules/KVER with their modules.dep dependencies; built-in ones are
skipped. See docs/boot.md.`

func imageInitramfs(fs *flag.FlagSet) func(*ctx, []string) error {
	out := fs.String("out", "", "initramfs file to write (required)")
	initBin := fs.String("init", "", "the static rampart-init binary (required)")
	cfgPath := fs.String("config", "", "boot configuration, JSON (required)")
	trustPath := fs.String("trust", "", "trusted release keys (PEM) or root metadata (required)")
	policy := fs.String("policy", "", "compiled binary SELinux policy to load at boot")
	kver := fs.String("kernel", "", "kernel version whose modules to include (/lib/modules/KVER)")
	modDir := fs.String("modules-dir", "", "module tree instead of /lib/modules/KVER")
	var mods repeatedFlag
	fs.Var(&mods, "module", "kernel module to include (default: virtio_pci virtio_blk dm_mod dm_verity erofs squashfs); repeat")
	gz := fs.Bool("gzip", false, "compress with gzip")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none)"); err != nil {
			return err
		}
		if *out == "" || *initBin == "" || *cfgPath == "" || *trustPath == "" {
			return usagef("--out, --init, --config and --trust are required")
		}
		b, err := os.ReadFile(*cfgPath)
		if err != nil {
			return err
		}
		cfg, err := boot.ParseConfig(b)
		if err != nil {
			return usagef("%s: %v", *cfgPath, err)
		}
		spec := &boot.InitramfsSpec{Init: *initBin, Config: cfg, Trust: *trustPath, Policy: *policy, Gzip: *gz, Modules: mods}
		switch {
		case *modDir != "":
			spec.ModulesDir = *modDir
		case *kver != "":
			spec.ModulesDir = filepath.Join("/lib/modules", *kver)
		}
		if len(spec.Modules) == 0 {
			spec.Modules = boot.DefaultModules()
		}
		tmp := *out + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		rep, err := boot.BuildInitramfs(f, spec)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, *out); err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(rep)
		}
		fmt.Fprintf(c.stdout, "Wrote %s: %d bytes, %d files, %d module(s)", *out, rep.Size, len(rep.Files), len(rep.Modules))
		if len(rep.Builtin) > 0 {
			fmt.Fprintf(c.stdout, " (built in: %v)", rep.Builtin)
		}
		fmt.Fprintln(c.stdout)
		return nil
	}
}
