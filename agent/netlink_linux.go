//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-sec/rampart/audit"
)

// NetlinkOptions configure RunNetlink.
type NetlinkOptions struct {
	// Mode is audit.Multicast (read-only, next to auditd) or
	// audit.Unicast (the agent registers as the audit daemon: it fails
	// while auditd runs).
	Mode audit.Mode
	// Rules are audit rules in auditctl syntax to load before reading
	// (AuditRules generates them from the policy) and to remove on
	// return. Rules already loaded are left alone; a rule the kernel
	// refuses is reported and skipped. In any case the agent first adds
	// (and removes at the end) a rule exempting its own process
	// (-A exit,never -F pid=PID).
	Rules []string
	// BacklogLimit is set in unicast mode (0: 8192).
	BacklogLimit uint32
	// Heartbeat is how often to write a heartbeat entry and sign a
	// checkpoint (0: one minute; negative: never).
	Heartbeat time.Duration
	// StatusEvery is how often the kernel's lost counter and backlog are
	// polled (0: 5 s).
	StatusEvery time.Duration
	// Reassembler configures event reassembly (OnEvent and OnLoss are
	// set by the agent).
	Reassembler audit.ReassemblerConfig
	// Ready, if set, is called once the rules are loaded and records are
	// being received.
	Ready func()
	// Coalesce is how long the agent lets records gather in the socket's
	// buffer once it has read everything, before reading again: one
	// wake-up per burst instead of one per record, for at most that much
	// delay. 0 means 50 ms; negative reads each record as it comes.
	Coalesce time.Duration
}

// RuleError is a rule the kernel refused.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("audit rule %q: %v", e.Rule, e.Err) }

// RunNetlink reads audit records from the kernel until ctx is done, then
// flushes the events in flight, removes the rules it loaded and, in unicast
// mode, restores the audit status it changed and unregisters. The kernel's
// lost counter and backlog are polled on a separate control socket.
func (a *Agent) RunNetlink(ctx context.Context, opts NetlinkOptions) (err error) {
	ctl, err := audit.Dial(audit.Unicast)
	if err != nil {
		return err
	}
	defer ctl.Close()
	st0, err := ctl.Status()
	if err != nil {
		return fmt.Errorf("audit status: %w", err)
	}

	var loaded []*audit.Rule
	defer func() {
		for _, r := range loaded {
			if derr := ctl.DeleteRule(r); derr != nil && !errors.Is(derr, syscall.ENOENT) {
				a.warn(fmt.Sprintf("removing audit rule %s: %v", r, derr))
			}
		}
		a.metrics.auditRules.Set(0)
	}()
	// The agent's own syscalls are not to be audited: that costs it CPU
	// on every syscall, and its ledger writes under a watched directory
	// would feed back into the ledger. (The kernel exempts the registered
	// daemon, not a multicast reader.)
	self := fmt.Sprintf("-A exit,never -F pid=%d", os.Getpid())
	for _, line := range append([]string{self}, opts.Rules...) {
		r, perr := audit.ParseRule(line, audit.RuleOptions{})
		if perr == nil {
			perr = ctl.AddRule(r)
			if errors.Is(perr, syscall.EEXIST) {
				continue // someone else's: not ours to remove
			}
		}
		if perr != nil {
			a.warn((&RuleError{line, perr}).Error())
			continue
		}
		loaded = append(loaded, r)
	}
	a.metrics.auditRules.Set(float64(len(loaded)))
	if len(loaded) > 0 && loaded[0].Action == audit.ActionNever {
		a.metrics.auditRules.Set(float64(len(loaded) - 1)) // the exemption is not one of the policy's
	}

	var src *audit.Client
	switch opts.Mode {
	case audit.Multicast:
		if src, err = audit.Dial(audit.Multicast); err != nil {
			return err
		}
		if st0.Enabled == 0 {
			a.warn("audit is disabled (enabled 0): no records will arrive until it is enabled (auditctl -e 1)")
		}
	case audit.Unicast:
		if src, err = audit.Dial(audit.Unicast); err != nil {
			return err
		}
		if err = src.SetPID(); err != nil {
			src.Close()
			if errors.Is(err, syscall.EEXIST) {
				return fmt.Errorf("cannot own audit: another audit daemon (pid %d, auditd?) is registered; use multicast mode: %w", st0.PID, err)
			}
			return err
		}
		limit := opts.BacklogLimit
		if limit == 0 {
			limit = 8192
		}
		set := audit.Status{Enabled: 1, Failure: audit.FailPrintk, RateLimit: 0, BacklogLimit: limit, BacklogWaitTime: 0}
		mask := audit.StatusFailure | audit.StatusRateLimit | audit.StatusBacklogLimit | audit.StatusBacklogWaitTime
		if st0.Enabled == 0 {
			mask |= audit.StatusEnabled
		}
		if err = ctl.SetStatus(set, mask); err != nil {
			src.Close()
			return fmt.Errorf("configuring audit: %w", err)
		}
		defer func() {
			old := audit.Status{Enabled: st0.Enabled, Failure: st0.Failure, RateLimit: st0.RateLimit,
				BacklogLimit: st0.BacklogLimit, BacklogWaitTime: st0.BacklogWaitTime}
			if rerr := ctl.SetStatus(old, mask); rerr != nil {
				a.warn("restoring the audit status: " + rerr.Error())
			}
		}()
	default:
		return fmt.Errorf("unknown netlink mode %d", opts.Mode)
	}
	defer src.Close()

	re := a.NewReassembler(opts.Reassembler)
	stop := a.heartbeats(ctx, opts.Heartbeat)
	defer stop()
	if opts.Ready != nil {
		opts.Ready()
	}
	var nsrc audit.NetlinkSource = src
	if opts.Coalesce >= 0 {
		d := opts.Coalesce
		if d == 0 {
			d = 50 * time.Millisecond
		}
		nsrc = &coalescer{c: src, every: d}
	}
	_, err = audit.RunNetlink(ctx, nsrc, re, audit.RunOptions{
		Status:    statusRecorder{ctl, a.metrics},
		LostEvery: opts.StatusEvery,
		Now:       a.now,
		OnParseError: func(_ audit.RecordType, _ []byte, perr error) {
			var pe *audit.ParseError
			if errors.As(perr, &pe) {
				a.ParseError(ReasonSlug(pe.Reason))
			} else {
				a.ParseError("unparsable")
			}
		},
	})
	re.Flush()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// coalescer reads records in bursts: once it has read everything the
// socket held (a read had to wait), it sleeps for every before reading
// again (never past the caller's deadline), so that a steady trickle of
// records costs a couple of wake-ups per interval rather than one per
// record. Records wait in the socket's buffer (8 MiB) meanwhile.
type coalescer struct {
	c        *audit.Client
	every    time.Duration
	deadline time.Time // the caller's
	set      time.Time // the socket's
	idle     bool      // the socket was found empty: sleep before the next read
}

func (s *coalescer) SetDeadline(t time.Time) error {
	s.deadline = t
	return nil
}

func (s *coalescer) Receive() (audit.RecordType, []byte, error) {
	for {
		now := time.Now()
		if s.idle {
			s.idle = false
			wake := now.Add(s.every)
			if !s.deadline.IsZero() && s.deadline.Before(wake) {
				wake = s.deadline
			}
			time.Sleep(wake.Sub(now))
			now = time.Now()
			s.set = time.Time{} // a new burst: a new deadline
		}
		// One deadline per burst (setting one costs a timer update):
		// while records are waiting, reads do not block.
		if s.set.IsZero() || !now.Before(s.set) || (!s.deadline.IsZero() && s.deadline.Before(s.set)) {
			d := now.Add(s.every)
			if !s.deadline.IsZero() && s.deadline.Before(d) {
				d = s.deadline
			}
			if err := s.c.SetDeadline(d); err != nil {
				return 0, nil, err
			}
			s.set = d
		}
		t, data, err := s.c.Receive()
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			s.set = time.Time{}
			if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
				return 0, nil, err // the caller's deadline: let it tick
			}
			continue
		}
		if time.Since(now) > 100*time.Microsecond {
			s.idle = true // the read waited: the buffer had been drained
		}
		return t, data, err
	}
}

// statusRecorder polls the kernel's status for RunNetlink and records the
// backlog.
type statusRecorder struct {
	c *audit.Client
	m *Metrics
}

func (s statusRecorder) Status() (*audit.Status, error) {
	st, err := s.c.Status()
	if err == nil {
		s.m.backlog.Set(float64(st.Backlog))
	}
	return st, err
}

// ProcExe returns the executable of a live process from /proc, for
// Options.LookupExe.
func ProcExe(pid int) (string, bool) {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(exe, " (deleted)"), true
}
