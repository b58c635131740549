// Command testinit is the /sbin/init of the root images the QEMU tests
// of package boot boot: it prints markers on the console (the root's
// dm-verity status, whether / is read-only, what reading /data/block.bin
// gives) and powers the machine off.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/boot"
)

func main() {
	out := os.Stdout
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		out = f
	}
	p := func(format string, a ...any) { fmt.Fprintf(out, "RAMPART-TEST: "+format+"\n", a...) }
	p("started as pid %d, slot %s", os.Getpid(), os.Getenv("RAMPART_SLOT"))
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		p("statfs /: %v", err)
	} else {
		p("root read-only flag %v", st.Flags&unix.ST_RDONLY != 0)
	}
	if err := os.WriteFile("/probe", []byte("x"), 0o644); err != nil {
		p("write to / refused: %v", err)
	} else {
		p("write to / SUCCEEDED")
	}
	ts, err := boot.DM{IO: boot.LinuxSystem{}}.Status(os.Getenv("RAMPART_DM_NAME"))
	if err != nil {
		p("verity status: %v", err)
	}
	for _, t := range ts {
		p("verity status: %s %d %d %s", t.Type, t.Start, t.Length, t.Params)
	}
	if b, err := os.ReadFile("/proc/self/attr/current"); err == nil {
		p("selinux context %s", b)
	}
	b, err := os.ReadFile("/data/block.bin")
	if err != nil {
		p("read /data/block.bin: error: %v", err)
	} else {
		p("read /data/block.bin: %d bytes, sha256 %x", len(b), sha256.Sum256(b))
	}
	p("done")
	unix.Sync()
	time.Sleep(100 * time.Millisecond)
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
