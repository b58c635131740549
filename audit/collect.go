package audit

import (
	"context"
	"errors"
	"io"
	"time"
)

// ReadAll reads a whole audit log (an audit.log file, or records on stdin
// from an auditd plugin) into re and flushes it at the end. Lines that are
// not records are counted in the returned stats and skipped.
func ReadAll(r io.Reader, re *Reassembler, opts ReaderOptions) (ReaderStats, error) {
	rd := NewReader(r, opts)
	for {
		rec, err := rd.Next()
		if err != nil {
			re.Flush()
			if err == io.EOF {
				err = nil
			}
			return rd.Stats(), err
		}
		re.Push(rec)
	}
}

// FollowOptions configures Follow.
type FollowOptions struct {
	ReaderOptions
	// Tick is how often the reassembler's clock advances (Maintain) while
	// input is idle. Default 250ms.
	Tick time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Follow reads records from r as they come — auditd's plugin mode, where
// auditd writes records to the plugin's stdin (plugins.d: direction=out,
// format=string) — pushing them into re and calling re.Maintain every
// Tick so that events without EOE time out while input is idle. It returns
// when r ends (after flushing re, with the reader's counts) or when ctx is
// done (with zero counts; the goroutine reading r ends when r does — close
// it). re is only touched from the calling goroutine.
func Follow(ctx context.Context, r io.Reader, re *Reassembler, opts FollowOptions) (ReaderStats, error) {
	if opts.Tick <= 0 {
		opts.Tick = 250 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	type item struct {
		rec *Record
		err error
	}
	ch := make(chan item, 1024)
	rd := NewReader(r, opts.ReaderOptions)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			rec, err := rd.Next()
			select {
			case ch <- item{rec, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(opts.Tick)
	defer tick.Stop()
	re.Maintain(opts.Now())
	for {
		select {
		case <-ctx.Done():
			return ReaderStats{}, ctx.Err()
		case <-tick.C:
			re.Maintain(opts.Now())
		case it := <-ch:
			if it.err != nil {
				re.Flush()
				if it.err == io.EOF {
					it.err = nil
				}
				return rd.Stats(), it.err
			}
			re.Push(it.rec)
		}
	}
}

// NetlinkStats counts what RunNetlink read.
type NetlinkStats struct {
	Records     uint64 // records parsed and pushed
	ParseErrors uint64 // messages that did not parse (skipped)
	Overflows   uint64 // ENOBUFS: the socket buffer overflowed
	LastLost    uint32 // the kernel lost counter at the last poll
}

// NetlinkSource is what RunNetlink reads: a *Client in either mode.
type NetlinkSource interface {
	Receive() (RecordType, []byte, error)
	SetDeadline(time.Time) error
}

// StatusSource reports the kernel's audit status: a *Client in unicast
// mode used only for control.
type StatusSource interface {
	Status() (*Status, error)
}

// RunOptions configures RunNetlink.
type RunOptions struct {
	// Tick is how often the reassembler's clock advances. Default 250ms.
	Tick time.Duration
	// Status, if set, is polled every LostEvery for the kernel's lost
	// counter; increases are reported as LossKernel. Use a separate
	// control client: the receiving one may be busy (elastic/beats#7561).
	Status    StatusSource
	LostEvery time.Duration // default 5s
	// OnParseError, if set, receives messages that did not parse.
	OnParseError func(t RecordType, data []byte, err error)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// RunNetlink reads records from src until ctx is done, parses them,
// pushes them into re, and calls re.Maintain every Tick. A receive-buffer
// overflow (ENOBUFS) is reported to re as LossSocket and reading goes on;
// the kernel's lost counter, when opts.Status is set, is reported as
// LossKernel. It returns ctx.Err() or the first fatal receive error.
func RunNetlink(ctx context.Context, src NetlinkSource, re *Reassembler, opts RunOptions) (NetlinkStats, error) {
	if opts.Tick <= 0 {
		opts.Tick = 250 * time.Millisecond
	}
	if opts.LostEvery <= 0 {
		opts.LostEvery = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var st NetlinkStats
	haveLost := false
	pollLost := func() {
		if opts.Status == nil {
			return
		}
		s, err := opts.Status.Status()
		if err != nil {
			return
		}
		if haveLost && s.Lost > st.LastLost {
			re.ReportLoss(Loss{Kind: LossKernel, Count: uint64(s.Lost - st.LastLost)})
		}
		st.LastLost, haveLost = s.Lost, true
	}
	pollLost()
	now := opts.Now()
	re.Maintain(now)
	nextTick, nextLost := now.Add(opts.Tick), now.Add(opts.LostEvery)
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		_ = src.SetDeadline(nextTick)
		t, data, err := src.Receive()
		switch {
		case err == nil:
			rec, perr := ParseNetlink(t, data)
			if perr != nil {
				st.ParseErrors++
				if opts.OnParseError != nil {
					opts.OnParseError(t, data, perr)
				}
			} else {
				st.Records++
				re.Push(rec)
			}
		case errors.Is(err, ErrOverflow):
			st.Overflows++
			re.ReportLoss(Loss{Kind: LossSocket})
		case isTimeout(err):
		default:
			return st, err
		}
		if now = opts.Now(); !now.Before(nextTick) {
			re.Maintain(now)
			nextTick = now.Add(opts.Tick)
		}
		if !now.Before(nextLost) {
			pollLost()
			nextLost = now.Add(opts.LostEvery)
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
