package seccomp

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ActionNotify sends the syscall to the filter's listener (user-space
// notification), whose supervisor decides (see Supervise).
const ActionNotify Action = unix.SECCOMP_RET_USER_NOTIF

// InstallListener loads prog on the calling thread, like Install, and
// returns the listener of its user-space notifications
// (SECCOMP_FILTER_FLAG_NEW_LISTENER), close-on-exec.
func InstallListener(prog []unix.SockFilter) (int, error) {
	if len(prog) == 0 {
		return -1, fmt.Errorf("seccomp: empty filter")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	fd, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return -1, fmt.Errorf("seccomp(SET_MODE_FILTER, NEW_LISTENER): %w", e)
	}
	return int(fd), nil
}

// notif is struct seccomp_notif.
type notif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// Supervise answers the notifications of listener until the filter has
// no task left or the listener is closed. For each notification,
// cont(pid) says whether the syscall runs as if allowed
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE: for trusted code only, since the
// arguments are not re-checked); otherwise refuse(pid, nr) returns the
// errno it fails with. pid is the calling thread's id in the caller's
// pid namespace.
func Supervise(listener int, cont func(pid int) bool, refuse func(pid int, nr int32) syscall.Errno) error {
	for {
		fds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLNVAL|unix.POLLERR) != 0 && fds[0].Revents&unix.POLLIN == 0 {
			return nil // no task uses the filter any more
		}
		var req notif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			switch e {
			case unix.EINTR, unix.ENOENT: // interrupted, or the task died
				continue
			}
			return fmt.Errorf("seccomp notification: %w", e)
		}
		resp := notifResp{id: req.id}
		if cont(int(req.pid)) && idValid(listener, req.id) {
			resp.flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
		} else {
			resp.error = -int32(refuse(int(req.pid), req.nr))
		}
		// ENOENT: the task died or was interrupted meanwhile.
		unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// idValid reports whether notification id is still pending: the task
// that made it is still waiting, so what cont checked about it holds.
func idValid(listener int, id uint64) bool {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	return e == 0
}

// SameMemory reports whether tasks a and b share their address space
// (kcmp KCMP_VM).
func SameMemory(a, b int) bool {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpVM, 0, 0, 0)
	return e == 0 && r == 0
}

// kcmpVM is KCMP_VM of linux/kcmp.h.
const kcmpVM = 1
