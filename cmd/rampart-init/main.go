// Command rampart-init is the PID 1 of Rampart's initramfs: it verifies
// and mounts the root filesystem of the A/B slot to boot, through
// dm-verity, and executes the real init in it (see package boot and
// docs/boot.md). Build it static: CGO_ENABLED=0 go build.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/rampart-sec/rampart/boot"
)

func main() {
	console := os.Stdout
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "rampart-init: not PID 1; this program is the init of an initramfs (see docs/boot.md)")
		os.Exit(2)
	}
	in := &boot.Init{Sys: boot.LinuxSystem{}, Console: console, Now: time.Now}
	in.Main()
	// PID 1 must never exit: the kernel would panic.
	for {
		time.Sleep(time.Hour)
	}
}
