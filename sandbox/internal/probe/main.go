// Command probe is the stand-in program of rampart's confinement tests:
// it tries the operations named on its command line and prints one line
// per operation, "OP ARG: ok" or "OP ARG: ERRNO" (e.g. "read /x:
// EACCES"), so that a test can check what the sandbox allowed.
//
//	probe read /etc/hostname write /tmp/x connect 127.0.0.1:80 caps
//
// Operations (arguments in capitals):
//
//	read P, write P, trunc P, create P, mkdir P, unlink P, readdir P
//	rename A B, link A B, symlink TARGET LINK
//	opath P         open P with O_PATH, then reopen /proc/self/fd/N
//	exec P ARGS.. -- replace the probe with P (ends the list)
//	bind PORT, connect HOST:PORT, listen PORT (net.Listen), mptcp
//	unixconnect P, unixlisten P
//	syscall NAME    ptrace, keyctl, bpf, mount, unshare-user, personality, uname
//	caps            the capability sets and no_new_privs, from capget/prctl
//	status          Cap*, NoNewPrivs and Seccomp lines of /proc/self/status
//	id, pid, hostname, fds (open descriptors above 2)
//	ifaces          the network interfaces and whether they are up
//	writefd N       write one byte to descriptor N
//	vmread PID      process_vm_readv from process PID
//	mmapwx          map anonymous memory writable and executable
//	sleep SECONDS   sleep without a signal handler
//	trap SECONDS    sleep with a SIGTERM handler that exits 42
//	exit CODE, echo TEXT
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		op := args[0]
		n := arity(op)
		if op == "exec" {
			n = len(args) - 1
		}
		if n > len(args)-1 {
			fmt.Printf("%s: missing argument\n", op)
			os.Exit(2)
		}
		opArgs := args[1 : 1+n]
		args = args[1+n:]
		res := do(op, opArgs)
		key := op
		if len(opArgs) > 0 && op != "exec" {
			key += " " + strings.Join(opArgs, " ")
		} else if op == "exec" && len(opArgs) > 0 {
			key += " " + opArgs[0]
		}
		fmt.Printf("%s: %s\n", key, res)
	}
}

func arity(op string) int {
	switch op {
	case "rename", "link", "symlink":
		return 2
	case "caps", "status", "id", "pid", "hostname", "fds", "mptcp", "mmapwx", "ifaces":
		return 0
	}
	return 1
}

func errno(err error) string {
	if err == nil {
		return "ok"
	}
	for e := err; e != nil; {
		if n, ok := e.(syscall.Errno); ok {
			if name := unix.ErrnoName(n); name != "" {
				return name
			}
			return strconv.Itoa(int(n))
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return "error " + strings.ReplaceAll(err.Error(), "\n", " ")
}

func openClose(path string, flags int, mode uint32) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	if flags&(unix.O_WRONLY|unix.O_RDWR) == 0 && flags&unix.O_DIRECTORY == 0 {
		var b [16]byte
		if _, err := unix.Read(fd, b[:]); err != nil && err != unix.EISDIR {
			unix.Close(fd)
			return err
		}
	}
	return unix.Close(fd)
}

func do(op string, a []string) string {
	switch op {
	case "read":
		return errno(openClose(a[0], unix.O_RDONLY, 0))
	case "write":
		fd, err := unix.Open(a[0], unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return errno(err)
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte("probe\n"))
		return errno(err)
	case "trunc":
		return errno(openClose(a[0], unix.O_WRONLY|unix.O_TRUNC, 0))
	case "create":
		return errno(openClose(a[0], unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644))
	case "mkdir":
		return errno(unix.Mkdir(a[0], 0o755))
	case "unlink":
		return errno(unix.Unlink(a[0]))
	case "readdir":
		f, err := os.Open(a[0])
		if err != nil {
			return errno(err)
		}
		defer f.Close()
		_, err = f.Readdirnames(-1)
		return errno(err)
	case "rename":
		return errno(unix.Rename(a[0], a[1]))
	case "link":
		return errno(unix.Link(a[0], a[1]))
	case "symlink":
		return errno(unix.Symlink(a[0], a[1]))
	case "opath":
		fd, err := unix.Open(a[0], unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return "opath " + errno(err)
		}
		defer unix.Close(fd)
		return errno(openClose("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY, 0))
	case "exec":
		if len(a) == 0 {
			return "missing path"
		}
		os.Stdout.Sync()
		return errno(syscall.Exec(a[0], a, os.Environ()))
	case "bind", "listen":
		port, err := strconv.Atoi(a[0])
		if err != nil {
			return "bad port"
		}
		if op == "listen" {
			// net.Listen tries Multipath TCP first since Go 1.24.
			ln, err := net.Listen("tcp", "127.0.0.1:"+a[0])
			if err != nil {
				return errno(err)
			}
			ln.Close()
			return "ok"
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return errno(err)
		}
		defer unix.Close(fd)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		return errno(unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	case "connect":
		c, err := net.DialTimeout("tcp", a[0], 2*time.Second)
		if err != nil {
			return errno(err)
		}
		c.Close()
		return "ok"
	case "mptcp":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "unixconnect":
		c, err := net.DialTimeout("unix", a[0], 2*time.Second)
		if err != nil {
			return errno(err)
		}
		c.Close()
		return "ok"
	case "unixlisten":
		ln, err := net.Listen("unix", a[0])
		if err != nil {
			return errno(err)
		}
		ln.Close()
		return "ok"
	case "syscall":
		return rawSyscall(a[0])
	case "caps":
		return caps()
	case "status":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return errno(err)
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp") {
				out = append(out, k+"="+strings.TrimSpace(v))
			}
		}
		return strings.Join(out, " ")
	case "id":
		groups, _ := unix.Getgroups()
		return fmt.Sprintf("uid=%d euid=%d gid=%d egid=%d groups=%v", unix.Getuid(), unix.Geteuid(), unix.Getgid(), unix.Getegid(), groups)
	case "pid":
		return strconv.Itoa(unix.Getpid())
	case "ifaces":
		ifs, err := net.Interfaces()
		if err != nil {
			return errno(err)
		}
		var out []string
		for _, i := range ifs {
			state := "down"
			if i.Flags&net.FlagUp != 0 {
				state = "up"
			}
			out = append(out, i.Name+"="+state)
		}
		return strings.Join(out, ",")
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			return errno(err)
		}
		return h
	case "fds":
		var open []string
		for fd := 3; fd < 1024; fd++ {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
				open = append(open, strconv.Itoa(fd))
			}
		}
		if len(open) == 0 {
			return "none"
		}
		return strings.Join(open, ",")
	case "vmread":
		pid, err := strconv.Atoi(a[0])
		if err != nil {
			return "bad pid"
		}
		var local [8]byte
		// Read 8 bytes at the address of a (the probe's own variable
		// there is mapped in any Go program of the same binary layout;
		// the permission check comes first anyway).
		addr := uintptr(unsafe.Pointer(&local[0]))
		_, err = unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &local[0], Len: 8}}, []unix.RemoteIovec{{Base: addr, Len: 8}}, 0)
		return errno(err)
	case "writefd":
		fd, err := strconv.Atoi(a[0])
		if err != nil {
			return "bad fd"
		}
		_, err = unix.Write(fd, []byte("x"))
		return errno(err)
	case "mmapwx":
		b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err == nil {
			unix.Munmap(b)
		}
		return errno(err)
	case "sleep":
		d, _ := strconv.ParseFloat(a[0], 64)
		time.Sleep(time.Duration(d * float64(time.Second)))
		return "ok"
	case "trap":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("trap: ready")
		d, _ := strconv.ParseFloat(a[0], 64)
		select {
		case <-ch:
			fmt.Println("trap: SIGTERM")
			os.Exit(42)
		case <-time.After(time.Duration(d * float64(time.Second))):
		}
		return "timeout"
	case "sigcount":
		// Counts the SIGINTs that arrive within a[0] seconds.
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGINT)
		fmt.Println("sigcount: ready")
		d, _ := strconv.ParseFloat(a[0], 64)
		timeout := time.After(time.Duration(d * float64(time.Second)))
		n := 0
		for {
			select {
			case <-ch:
				n++
				continue
			case <-timeout:
			}
			break
		}
		return strconv.Itoa(n)
	case "exit":
		code, _ := strconv.Atoi(a[0])
		os.Stdout.Sync()
		os.Exit(code)
	case "echo":
		return a[0]
	}
	return "unknown operation"
}

func rawSyscall(name string) string {
	var e syscall.Errno
	switch name {
	case "ptrace":
		_, _, e = unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, uintptr(unix.Getppid()), 0, 0, 0, 0)
	case "keyctl":
		_, _, e = unix.RawSyscall6(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0, 0, 0, 0) // KEY_SPEC_SESSION_KEYRING (-3)
	case "bpf":
		_, _, e = unix.RawSyscall(unix.SYS_BPF, 0xffff, 0, 0)
	case "mount":
		_, _, e = unix.RawSyscall6(unix.SYS_MOUNT, 0, 0, 0, 0, 0, 0)
	case "unshare-user":
		_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	case "personality":
		_, _, e = unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	case "uname":
		var u unix.Utsname
		_, _, e = unix.RawSyscall(unix.SYS_UNAME, uintptr(unsafe.Pointer(&u)), 0, 0)
	default:
		return "unknown syscall"
	}
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

func caps() string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return unix.ErrnoName(e)
	}
	join := func(lo, hi uint32) uint64 { return uint64(hi)<<32 | uint64(lo) }
	var bnd, amb uint64
	for c := 0; c < 64; c++ {
		r, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0, 0)
		if e != 0 {
			break
		}
		if r == 1 {
			bnd |= 1 << c
		}
		r, _, _ = unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0, 0)
		if r == 1 {
			amb |= 1 << c
		}
	}
	nnp, _, _ := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, 0)
	return fmt.Sprintf("eff=%x prm=%x inh=%x bnd=%x amb=%x nnp=%d",
		join(data[0].Effective, data[1].Effective), join(data[0].Permitted, data[1].Permitted),
		join(data[0].Inheritable, data[1].Inheritable), bnd, amb, nnp)
}
