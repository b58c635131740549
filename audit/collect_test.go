package audit

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeSource plays scripted netlink receive results.
type fakeSource struct {
	script []func() (RecordType, []byte, error)
	cancel context.CancelFunc
}

func (f *fakeSource) SetDeadline(time.Time) error { return nil }

func (f *fakeSource) Receive() (RecordType, []byte, error) {
	if len(f.script) == 0 {
		f.cancel()
		return 0, nil, os.ErrDeadlineExceeded
	}
	s := f.script[0]
	f.script = f.script[1:]
	return s()
}

type fakeStatus struct{ lost []uint32 }

func (f *fakeStatus) Status() (*Status, error) {
	l := f.lost[0]
	if len(f.lost) > 1 {
		f.lost = f.lost[1:]
	}
	return &Status{Enabled: 1, Lost: l}, nil
}

// TestRunNetlink: records are parsed and reassembled, ENOBUFS is counted
// as a loss and reading goes on, timeouts tick the clock, unparsable
// messages are counted, the kernel lost counter's increase is reported.
func TestRunNetlink(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	msg := func(typ RecordType, s string) func() (RecordType, []byte, error) {
		return func() (RecordType, []byte, error) { return typ, []byte(s), nil }
	}
	fail := func(err error) func() (RecordType, []byte, error) {
		return func() (RecordType, []byte, error) { return 0, nil, err }
	}
	src := &fakeSource{cancel: cancel, script: []func() (RecordType, []byte, error){
		msg(TypeSyscall, "audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=5"),
		fail(ErrOverflow),
		msg(TypeEOE, "audit(1700000000.000:1): "),
		fail(os.ErrDeadlineExceeded),
		msg(TypeSyscall, "garbage"),
		msg(TypeUserLogin, "audit(1700000000.000:3): pid=1 msg='res=success'"),
	}}
	var events []*Event
	var losses []Loss
	re := NewReassembler(ReassemblerConfig{
		OnEvent: func(e *Event) { events = append(events, e) },
		OnLoss:  func(l Loss) { losses = append(losses, l) },
	})
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { clock = clock.Add(100 * time.Millisecond); return clock }
	var parseErrs int
	st, err := RunNetlink(ctx, src, re, RunOptions{
		Status: &fakeStatus{lost: []uint32{10, 10, 13}}, Tick: 100 * time.Millisecond, LostEvery: 100 * time.Millisecond, Now: now,
		OnParseError: func(RecordType, []byte, error) { parseErrs++ },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if st.Records != 3 || st.Overflows != 1 || st.ParseErrors != 1 || parseErrs != 1 || st.LastLost != 13 {
		t.Errorf("stats %+v", st)
	}
	if len(events) != 2 || events[0].How != CompleteEOE || events[1].How != CompleteStandalone {
		for _, e := range events {
			t.Errorf("event %s completed by %s", e.Stamp, e.How)
		}
	}
	kinds := map[LossKind]uint64{}
	for _, l := range losses {
		kinds[l.Kind] += l.Count + 1
	}
	if kinds[LossSocket] != 1 || kinds[LossKernel] != 4 {
		t.Errorf("losses %+v", losses)
	}
	// a fatal receive error ends the loop
	src = &fakeSource{cancel: func() {}, script: []func() (RecordType, []byte, error){fail(errors.New("boom"))}}
	if _, err := RunNetlink(context.Background(), src, re, RunOptions{}); err == nil || err.Error() != "boom" {
		t.Errorf("fatal error: %v", err)
	}
}

// TestFollow: records written to a pipe (auditd's plugin stdin) are
// reassembled as they come; an event without EOE times out while the
// input is idle; the end of input flushes.
func TestFollow(t *testing.T) {
	pr, pw := io.Pipe()
	events := make(chan *Event, 10)
	re := NewReassembler(ReassemblerConfig{Timeout: 50 * time.Millisecond, OnEvent: func(e *Event) { events <- e }})
	done := make(chan error, 1)
	var st ReaderStats
	go func() {
		var err error
		st, err = Follow(context.Background(), pr, re, FollowOptions{Tick: 10 * time.Millisecond})
		done <- err
	}()
	io.WriteString(pw, "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=2 success=yes exit=3 pid=1\n")
	select {
	case e := <-events:
		if e.How != CompleteTimeout {
			t.Errorf("completed by %s", e.How)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout completion while the input was idle")
	}
	io.WriteString(pw, "garbage\ntype=SYSCALL msg=audit(1700000000.000:2): pid=1\n")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.How != CompleteFlushed || e.Stamp.Serial != 2 {
		t.Errorf("flushed event %+v", e)
	}
	if st.Records != 2 || st.Errors() != 1 {
		t.Errorf("stats %+v", st)
	}
	// cancellation
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Follow(ctx, strings.NewReader(""), re, FollowOptions{}); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Follow: %v", err)
	}
}
