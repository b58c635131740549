package seccomp

import "golang.org/x/sys/unix"

// ActionNotify sends the syscall to the filter's listener (user-space
// notification, SECCOMP_RET_USER_NOTIF), whose supervisor decides: in
// rampart, the sandbox's init, which refuses and reports it.
const ActionNotify Action = unix.SECCOMP_RET_USER_NOTIF
