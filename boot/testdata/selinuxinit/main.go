// Command selinuxinit is the program of QEMU scenario 5 (TestQEMUSELinux
// in package boot). One static binary, copied to three paths of a root
// image labelled from the compiled examples/ic-node policy:
//
//   - as /sbin/init (PID 1, unconfined_t) it executes the two others,
//     collecting what they print through a pipe (the console is not a
//     file the compartments may use), prints it on the console, waits for
//     the kernel to print its AVC messages and powers the machine off;
//   - as /opt/ic/bin/canister_sandbox and /opt/ic/bin/ic-crypto-csp (which
//     the exec moves into canister_sandbox_t and crypto_vault_t) it prints
//     its SELinux context, then tries to read the key file and to list the
//     key store, printing what it read or the errno.
package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The key store of examples/ic-node (resource node_keys).
const (
	keyDir  = "/var/lib/ic/crypto"
	keyFile = keyDir + "/sks_data.pb"
)

// Programs is what the init executes, in order.
var programs = []string{"/opt/ic/bin/canister_sandbox", "/opt/ic/bin/ic-crypto-csp"}

func main() {
	if os.Getpid() != 1 {
		probe(os.Stdout)
		return
	}
	out := io.Writer(os.Stdout)
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		out = f
	}
	p := func(format string, a ...any) { fmt.Fprintf(out, "RAMPART-TEST: "+format+"\n", a...) }
	p("started as pid 1, slot %s, context %s", os.Getenv("RAMPART_SLOT"), context())
	if b, err := os.ReadFile("/sys/fs/selinux/enforce"); err == nil {
		p("selinux enforce %s", strings.TrimSpace(string(b)))
	} else {
		p("selinux enforce: %v", err)
	}
	for _, prog := range programs {
		var buf bytes.Buffer
		cmd := exec.Command(prog, "probe")
		// Pipes made by the init (unconfined_t) are what a compartment
		// may inherit; /dev/null and the console are not.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &buf, &buf
		// Go preempts goroutines by signalling its own threads (SIGURG);
		// the compartments of examples/ic-node hold no signal permission on
		// themselves, so every preemption would be an AVC denial. Turn it
		// off: the only denials left are the ones the scenario is about.
		cmd.Env = []string{"GODEBUG=asyncpreemptoff=1"}
		err := cmd.Run()
		for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			if l != "" {
				p("%s", l)
			}
		}
		p("%s exited: %v", prog, err)
	}
	// The kernel prints AVC messages from its audit thread: give it time.
	time.Sleep(time.Second)
	p("done")
	unix.Sync()
	time.Sleep(100 * time.Millisecond)
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func context() string {
	b, err := os.ReadFile("/proc/self/attr/current")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimRight(string(b), "\x00\n")
}

// errno names the errno behind err.
func errno(err error) string {
	var e syscall.Errno
	switch {
	case errors.Is(err, syscall.EACCES):
		return "EACCES"
	case errors.As(err, &e):
		return fmt.Sprintf("errno %d", int(e))
	}
	return "error"
}

func probe(w io.Writer) {
	name := filepath.Base(os.Args[0])
	fmt.Fprintf(w, "%s: context %s\n", name, context())
	if b, err := os.ReadFile(keyFile); err != nil {
		fmt.Fprintf(w, "%s: read %s: %s (%v)\n", name, keyFile, errno(err), err)
	} else {
		fmt.Fprintf(w, "%s: read %s: %d bytes, sha256 %x\n", name, keyFile, len(b), sha256.Sum256(b))
	}
	if ents, err := os.ReadDir(keyDir); err != nil {
		fmt.Fprintf(w, "%s: list %s: %s (%v)\n", name, keyDir, errno(err), err)
	} else {
		fmt.Fprintf(w, "%s: list %s: %d entries\n", name, keyDir, len(ents))
	}
}
