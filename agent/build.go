package agent

import (
	"strconv"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy"
)

// builder turns reassembled audit events into detect.Events: it tracks
// processes, attributes them and judges their accesses. Not safe for
// concurrent use.
type builder struct {
	tracker *audit.Tracker
	attr    *attributor
	check   *checker
}

// process converts a tracked process image.
func (b *builder) process(p *audit.Process, label string) detect.Process {
	if p == nil {
		return detect.Process{}
	}
	return detect.Process{
		Known: true, PID: int64(p.ID.PID), PPID: int64(p.PPID),
		UID: int64(p.UID), EUID: int64(p.UID), AUID: int64(p.AUID), Ses: int64(p.Ses),
		Exe: p.Exe, Comm: p.Comm, ExecID: b.attr.execID(p), Label: label,
		Subject: b.attr.attribute(b.tracker, p, label),
	}
}

// build fills ev from e. ev's slices are reused.
func (b *builder) build(e *audit.Event, ev *detect.Event) {
	*ev = detect.Event{Records: ev.Records[:0], Access: ev.Access[:0], Paths: ev.Paths[:0]}
	ev.Serial = int64(e.Stamp.Serial)
	ev.Node = e.Node
	ev.Time = e.Stamp.Time()
	ev.Type = e.Type().String()
	for _, r := range e.Records {
		ev.Records = append(ev.Records, r.Type.String())
	}
	ev.Keys = e.Keys()
	b.attr.observeLogin(e)

	sys := e.First(audit.TypeSyscall)
	success, _ := e.Success()
	ev.Success = success
	if sys != nil {
		ev.Syscall = e.SyscallName()
		ev.Exit, _ = e.Exit()
		if !success && ev.Exit < 0 {
			ev.Errno = errnoName(-ev.Exit)
		}
	}
	exec := success && (ev.Syscall == "execve" || ev.Syscall == "execveat")
	if exec {
		if pid, ok := e.PID(); ok {
			b.attr.forgetExe(pid)
		}
	}

	proc := b.tracker.Observe(e)
	label, _ := e.Subject()
	ev.Proc = b.process(proc, label)
	if proc != nil {
		// The process's own event values are more current than the
		// tracker's first sighting.
		if uid, ok := e.UID(); ok {
			ev.Proc.UID = int64(uid)
		}
		if euid, ok := e.EUID(); ok {
			ev.Proc.EUID = int64(euid)
		}
		if !proc.Prev.IsZero() && exec {
			ev.Prev = b.process(b.tracker.Get(proc.Prev), "")
		}
		if !proc.Parent.IsZero() {
			ev.Parent = b.process(b.tracker.Get(proc.Parent), "")
		}
		if !ev.Parent.Known && proc.PPID > 0 {
			if pp := b.tracker.Current(proc.PPID); pp != nil && pp != proc {
				ev.Parent = b.process(pp, "")
			}
		}
	} else if label != "" {
		ev.Proc.Label = label
		ev.Proc.Subject = b.attr.attribute(b.tracker, nil, label)
	}
	ev.Subject = ev.Proc.Subject
	if exec {
		ev.Argv, _ = e.Argv()
	}

	paths := e.Paths()
	for _, p := range paths {
		ev.Paths = append(ev.Paths, detect.Path{Name: p.Name, NameType: p.NameType, Mode: int64(p.Mode), OUID: int64(p.OUID), Label: p.Obj})
	}
	if sa, ok := e.Sockaddr(); ok {
		ev.Net = detect.Net{Family: sa.FamilyName(), Port: int64(sa.Port), Path: sa.Path}
		if sa.Addr.IsValid() {
			ev.Net.Addr = sa.Addr.String()
			ev.Net.Loopback = sa.Addr.IsLoopback()
		}
	}
	if avc, ok := e.AVC(); ok {
		ev.AVC = detect.AVC{Result: avc.Result, Permissions: avc.Permissions, Class: avc.TClass,
			Source: avc.SContext, Target: avc.TContext, Name: avc.Name, Permissive: avc.Permissive}
		ev.Access = append(ev.Access, b.check.avcAccesses(ev.Subject, avc)...)
	}
	if op := e.First(audit.TypeObjPID); op != nil {
		if opid, ok := op.Uint("opid"); ok && opid > 0 {
			olabel, _ := op.Get("obj")
			tp := b.tracker.Current(int(opid))
			if tp == nil && b.attr.lookupExe != nil {
				// A process the agent never saw: what runs there now.
				if exe, ok := b.attr.lookupExe(int(opid)); ok {
					ev.Target = detect.Process{Known: true, PID: int64(opid), Exe: exe, Label: olabel}
					ev.Target.Subject, _ = b.attr.compartment(exe, ByExe)
				}
			} else {
				ev.Target = b.process(tp, olabel)
			}
			if !ev.Target.Known {
				ev.Target = detect.Process{Known: true, PID: int64(opid), Label: olabel, Subject: b.attr.attribute(b.tracker, nil, olabel)}
			}
			if ouid, ok := op.Uint("ouid"); ok {
				ev.Target.UID = int64(ouid)
			}
			if oauid, ok := op.Uint("oauid"); ok {
				ev.Target.AUID = int64(oauid)
			}
			if ocomm, ok := op.Get("ocomm"); ok && ev.Target.Comm == "" {
				ev.Target.Comm = ocomm
			}
		}
	}
	if sys == nil {
		return
	}
	b.syscallAccesses(e, sys, ev, paths)
}

// syscallAccesses adds the accesses of a syscall event.
func (b *builder) syscallAccesses(e *audit.Event, sys *audit.Record, ev *detect.Event, paths []audit.Path) {
	subj := ev.Subject
	switch ev.Syscall {
	case "execve", "execveat":
		// The exec is done by the image that called it: the replaced
		// image when seen, else the parent.
		pre := ev.Prev.Subject
		if !ev.Prev.Known {
			pre = ev.Parent.Subject
		}
		if sp, ok := b.check.spawnAccess(pre, subj, ev.Proc.Exe); ok && ev.Success {
			ev.Access = append(ev.Access, sp)
			return // a granted spawn includes executing the entry point
		}
		ev.Access = append(ev.Access, b.check.fileAccesses(e, sys, ev.Syscall, pre, ev.Success, ev.Exit, paths)...)
	case "connect", "bind":
		sa, ok := e.Sockaddr()
		if !ok {
			return
		}
		made, attempt := outcome(ev.Success, ev.Exit, true)
		if !made && !attempt {
			return
		}
		v := policy.VerbConnect
		if ev.Syscall == "bind" {
			v = policy.VerbBind
		}
		if a, ok := b.check.netAccess(subj, v, sa, attempt); ok {
			ev.Access = append(ev.Access, a)
		}
	case "ptrace", "kill", "tkill", "tgkill":
		if !ev.Target.Known {
			return
		}
		made, attempt := outcome(ev.Success, ev.Exit, false)
		if !made && !attempt {
			return
		}
		v := policy.VerbPtrace
		if ev.Syscall != "ptrace" {
			v = policy.VerbSignal
			if sigArg(sys, ev.Syscall) == 0 {
				return // signal 0 only tests that the process exists
			}
		}
		if a, ok := b.check.processAccess(subj, ev.Target.Subject, v, attempt); ok {
			ev.Access = append(ev.Access, a)
		}
	case "init_module", "finit_module", "delete_module":
		if ev.Success {
			if a, ok := b.check.capabilityAccess(subj, VerbLoadModule, "CAP_SYS_MODULE", false); ok {
				ev.Access = append(ev.Access, a)
			}
		}
	case "mount", "umount2", "umount", "fsmount", "move_mount":
		if ev.Success {
			if a, ok := b.check.capabilityAccess(subj, VerbMount, "CAP_SYS_ADMIN", false); ok {
				ev.Access = append(ev.Access, a)
			}
		}
	default:
		ev.Access = append(ev.Access, b.check.fileAccesses(e, sys, ev.Syscall, subj, ev.Success, ev.Exit, paths)...)
	}
}

// sigArg returns the signal of kill/tkill (a1) or tgkill (a2), -1 if
// unknown.
func sigArg(sys *audit.Record, name string) int64 {
	arg := "a1"
	if name == "tgkill" {
		arg = "a2"
	}
	v, ok := sys.HexUint(arg)
	if !ok {
		return -1
	}
	return int64(v)
}

// errnoName returns the symbolic name of a Linux errno, or its number.
func errnoName(n int64) string {
	switch n {
	case 1:
		return "EPERM"
	case 2:
		return "ENOENT"
	case 3:
		return "ESRCH"
	case 4:
		return "EINTR"
	case 5:
		return "EIO"
	case 6:
		return "ENXIO"
	case 7:
		return "E2BIG"
	case 8:
		return "ENOEXEC"
	case 9:
		return "EBADF"
	case 10:
		return "ECHILD"
	case 11:
		return "EAGAIN"
	case 12:
		return "ENOMEM"
	case 13:
		return "EACCES"
	case 14:
		return "EFAULT"
	case 16:
		return "EBUSY"
	case 17:
		return "EEXIST"
	case 18:
		return "EXDEV"
	case 19:
		return "ENODEV"
	case 20:
		return "ENOTDIR"
	case 21:
		return "EISDIR"
	case 22:
		return "EINVAL"
	case 23:
		return "ENFILE"
	case 24:
		return "EMFILE"
	case 25:
		return "ENOTTY"
	case 26:
		return "ETXTBSY"
	case 27:
		return "EFBIG"
	case 28:
		return "ENOSPC"
	case 29:
		return "ESPIPE"
	case 30:
		return "EROFS"
	case 32:
		return "EPIPE"
	case 36:
		return "ENAMETOOLONG"
	case 38:
		return "ENOSYS"
	case 39:
		return "ENOTEMPTY"
	case 40:
		return "ELOOP"
	case 61:
		return "ENODATA"
	case 88:
		return "ENOTSOCK"
	case 95:
		return "EOPNOTSUPP"
	case 97:
		return "EAFNOSUPPORT"
	case 98:
		return "EADDRINUSE"
	case 99:
		return "EADDRNOTAVAIL"
	case 101:
		return "ENETUNREACH"
	case 103:
		return "ECONNABORTED"
	case 104:
		return "ECONNRESET"
	case 106:
		return "EISCONN"
	case 110:
		return "ETIMEDOUT"
	case 111:
		return "ECONNREFUSED"
	case 113:
		return "EHOSTUNREACH"
	case 114:
		return "EALREADY"
	case 115:
		return "EINPROGRESS"
	}
	return "errno " + strconv.FormatInt(n, 10)
}
