package agent

import (
	"context"
	"io"
	"time"

	"github.com/rampart-sec/rampart/audit"
)

// ReaderOptions configure RunReader.
type ReaderOptions struct {
	// Follow reads a stream as it comes (auditd's plugin mode on stdin),
	// timing out events without EOE; otherwise the input is a finite log
	// (offline ingest) read to its end.
	Follow bool
	// MaxLine is the longest line accepted (0: audit.DefaultMaxLine);
	// longer lines are skipped and counted as parse errors.
	MaxLine int
	// Heartbeat is how often to write a heartbeat entry and sign a
	// checkpoint while following (0: one minute; negative: never).
	Heartbeat time.Duration
	// Reassembler configures event reassembly (OnEvent and OnLoss are
	// set by the agent).
	Reassembler audit.ReassemblerConfig
}

// RunReader processes audit records read from r: an audit.log file
// (offline ingest), or records as auditd writes them to a plugin's
// standard input (Follow). Lines that are not records are counted as parse
// errors by reason and skipped. It returns at the end of r, or when ctx is
// done (then the events in flight are flushed first).
func (a *Agent) RunReader(ctx context.Context, r io.Reader, opts ReaderOptions) error {
	re := a.NewReassembler(opts.Reassembler)
	ropts := audit.ReaderOptions{MaxLine: opts.MaxLine, OnSkip: a.skip}
	if !opts.Follow {
		_, err := audit.ReadAll(ctxReader{ctx, r}, re, ropts)
		return err
	}
	stop := a.heartbeats(ctx, opts.Heartbeat)
	defer stop()
	_, err := audit.Follow(ctx, r, re, audit.FollowOptions{ReaderOptions: ropts, Now: a.now})
	if ctx.Err() != nil {
		re.Flush() // Follow does not flush when cancelled
		return nil
	}
	return err
}

// skip counts a line the reader skipped; blank lines and comments are not
// errors.
func (a *Agent) skip(_ int, reason audit.Reason, _ []byte) {
	if reason == audit.ReasonBlank || reason == audit.ReasonComment {
		return
	}
	a.ParseError(ReasonSlug(reason))
}

// heartbeats writes a heartbeat every interval until ctx is done or the
// returned stop is called.
func (a *Agent) heartbeats(ctx context.Context, every time.Duration) (stop func()) {
	if every == 0 {
		every = time.Minute
	}
	if every < 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.Heartbeat()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
