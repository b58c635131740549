package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type collector struct {
	events []*Event
	losses []Loss
}

func (c *collector) config() ReassemblerConfig {
	return ReassemblerConfig{
		OnEvent: func(e *Event) { c.events = append(c.events, e) },
		OnLoss:  func(l Loss) { c.losses = append(c.losses, l) },
	}
}

func rec(t *testing.T, typ string, serial int, body string) *Record {
	t.Helper()
	return mustParse(t, fmt.Sprintf("type=%s msg=audit(1700000000.%03d:%d): %s", typ, serial%1000, serial, body))
}

func (c *collector) serials() string {
	var s []string
	for _, e := range c.events {
		s = append(s, fmt.Sprintf("%d:%s:%d", e.Stamp.Serial, e.How, len(e.Records)))
	}
	return strings.Join(s, " ")
}

// TestReassembleInterleaved: records of several events interleave and
// arrive out of order; each event completes on its own EOE with all its
// records, and user-space messages complete at once.
func TestReassembleInterleaved(t *testing.T) {
	var c collector
	re := NewReassembler(c.config())
	push := func(typ string, serial int, body string) { re.Push(rec(t, typ, serial, body)) }
	push("PATH", 2, "item=0 name=\"/b\"")
	push("SYSCALL", 1, "arch=c000003e syscall=2 success=yes exit=3 pid=10")
	push("SYSCALL", 2, "arch=c000003e syscall=2 success=yes exit=3 pid=11")
	push("USER_LOGIN", 3, "pid=12 uid=0 msg='op=login acct=\"root\" res=success'")
	push("CWD", 1, "cwd=\"/\"")
	push("EOE", 2, "")
	push("PATH", 1, "item=0 name=\"/a\"")
	push("EOE", 1, "")
	if got, want := c.serials(), "3:standalone:1 2:eoe:2 1:eoe:3"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	if len(c.losses) != 0 || re.InFlight() != 0 {
		t.Errorf("losses %v, in flight %d", c.losses, re.InFlight())
	}
	if p := c.events[2].Paths(); len(p) != 1 || p[0].Name != "/a" {
		t.Errorf("event 1 paths %+v", p)
	}
}

// TestReassembleTimeout: without EOE an event completes when the clock
// given to Maintain passes the timeout; a record arriving after that is
// delivered as a Late event, never merged silently or dropped; a late EOE
// is counted.
func TestReassembleTimeout(t *testing.T) {
	var c collector
	cfg := c.config()
	cfg.Timeout = time.Second
	re := NewReassembler(cfg)
	t0 := time.Unix(1700000000, 0)
	re.Maintain(t0)
	re.Push(rec(t, "SYSCALL", 5, "pid=1"))
	re.Maintain(t0.Add(900 * time.Millisecond))
	if len(c.events) != 0 {
		t.Fatal("completed before the timeout")
	}
	re.Maintain(t0.Add(1100 * time.Millisecond))
	if c.serials() != "5:timeout:1" {
		t.Fatalf("events %s", c.serials())
	}
	re.Push(rec(t, "PROCTITLE", 5, "proctitle=6C73"))
	re.Push(rec(t, "EOE", 5, ""))
	if len(c.events) != 2 || !c.events[1].Late || c.events[1].How != CompleteEOE {
		t.Fatalf("late record: %s late=%v", c.serials(), c.events[len(c.events)-1].Late)
	}
	re.Push(rec(t, "EOE", 5, ""))
	st := re.Stats()
	if st.LateRecords != 1 || st.LateEOE != 1 || st.ByCompletion[CompleteTimeout] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestReassembleMaxInFlight: beyond MaxInFlight the oldest event is
// completed early.
func TestReassembleMaxInFlight(t *testing.T) {
	var c collector
	cfg := c.config()
	cfg.MaxInFlight = 3
	re := NewReassembler(cfg)
	for s := 1; s <= 5; s++ {
		re.Push(rec(t, "SYSCALL", s, "pid=1"))
	}
	if got := c.serials(); got != "1:evicted:1 2:evicted:1" {
		t.Errorf("events %s", got)
	}
	re.Flush()
	if got := c.serials(); got != "1:evicted:1 2:evicted:1 3:flushed:1 4:flushed:1 5:flushed:1" {
		t.Errorf("after flush %s", got)
	}
}

// TestReassembleGaps: missing serials are reported as lost once a later
// serial has waited the timeout (or at Flush), each gap once, with its
// range; a serial that arrives out of order within the timeout is no
// loss; a huge jump is a discontinuity, not a loss; auditd's DAEMON_*
// records (own serials) are not counted.
func TestReassembleGaps(t *testing.T) {
	var c collector
	cfg := c.config()
	cfg.Timeout = time.Second
	cfg.MaxGap = 1000
	re := NewReassembler(cfg)
	t0 := time.Unix(1700000000, 0)
	re.Maintain(t0)
	for _, s := range []int{100, 101, 103, 102, 107} { // 102 late but in time; 104-106 missing
		re.Push(rec(t, "USER_AUTH", s, "pid=1 msg='res=success'"))
	}
	re.Push(rec(t, "DAEMON_START", 5, "auditd start, ver=3.0.9 res=success"))
	if len(c.losses) != 0 {
		t.Fatalf("loss before the timeout: %+v", c.losses)
	}
	re.Maintain(t0.Add(2 * time.Second))
	if len(c.losses) != 1 || c.losses[0] != (Loss{Kind: LossSeqGap, From: 104, To: 106, Count: 3}) {
		t.Fatalf("losses %+v", c.losses)
	}
	re.Push(rec(t, "USER_AUTH", 105, "pid=1 msg='res=success'")) // arrives after being declared lost
	if !c.events[len(c.events)-1].Late {
		t.Error("a serial declared lost then seen is not marked late")
	}
	re.Push(rec(t, "USER_AUTH", 50000, "pid=1 msg='res=success'")) // jump > MaxGap
	re.Push(rec(t, "USER_AUTH", 50002, "pid=1 msg='res=success'"))
	re.Flush()
	want := []Loss{
		{Kind: LossSeqGap, From: 104, To: 106, Count: 3},
		{Kind: LossDiscontinuity, From: 107, To: 50000},
		{Kind: LossSeqGap, From: 50001, To: 50001, Count: 1},
	}
	if fmt.Sprint(c.losses) != fmt.Sprint(want) {
		t.Errorf("losses\n %+v\nwant\n %+v", c.losses, want)
	}
	st := re.Stats()
	if st.LostEvents != 4 || st.Gaps != 2 || st.Discontinuities != 1 {
		t.Errorf("stats %+v", st)
	}
	re.ReportLoss(Loss{Kind: LossKernel, Count: 7})
	re.ReportLoss(Loss{Kind: LossSocket})
	if st := re.Stats(); st.KernelLost != 7 || st.SocketLoss != 1 || len(c.losses) != 5 {
		t.Errorf("external losses: %+v", st)
	}
}

// TestReassembleNodes: the same stamp on two nodes is two events, and each
// node has its own serial sequence.
func TestReassembleNodes(t *testing.T) {
	var c collector
	re := NewReassembler(c.config())
	for _, l := range []string{
		"node=a type=SYSCALL msg=audit(1700000000.000:7): pid=1",
		"node=b type=SYSCALL msg=audit(1700000000.000:7): pid=2",
		"node=a type=EOE msg=audit(1700000000.000:7): ",
		"node=b type=SYSCALL msg=audit(1700000000.000:9): pid=2",
		"node=a type=SYSCALL msg=audit(1700000000.000:8): pid=1",
	} {
		re.Push(mustParse(t, l))
	}
	re.Flush()
	if len(c.events) != 4 || len(c.losses) != 1 || c.losses[0].Node != "b" || c.losses[0].From != 8 {
		t.Errorf("events %s losses %+v", c.serials(), c.losses)
	}
}

// TestReassembleGapBound: with no clock (offline), holes are declared
// once 4×MaxInFlight later serials have been seen, so memory stays
// bounded on an endless stream with a hole.
func TestReassembleGapBound(t *testing.T) {
	var c collector
	cfg := c.config()
	cfg.MaxInFlight = 4
	re := NewReassembler(cfg)
	re.Push(rec(t, "USER_AUTH", 1, "msg='res=success'"))
	for s := 3; s < 40; s++ {
		re.Push(rec(t, "USER_AUTH", s, "msg='res=success'"))
	}
	if len(c.losses) != 1 || c.losses[0].From != 2 || c.losses[0].Count != 1 {
		t.Errorf("losses %+v", c.losses)
	}
}

// TestReassembleReboot: a log spanning a reboot — serials restart while
// time moves on — reports a discontinuity, not late events, and tracks
// the new boot's serials; a late record (lower serial, earlier stamp) is
// still late.
func TestReassembleReboot(t *testing.T) {
	var c collector
	re := NewReassembler(c.config())
	push := func(sec, serial int) {
		re.Push(mustParse(t, fmt.Sprintf("type=USER_AUTH msg=audit(%d.000:%d): pid=1 msg='res=success'", sec, serial)))
	}
	for s := 500; s < 510; s++ {
		push(1700000000, s)
	}
	push(1700000001, 505) // late: same serial again, close in time
	for s := 3; s < 8; s++ {
		push(1700000300, s) // new boot five minutes later
	}
	push(1700000300, 9) // 8 missing in the new boot
	re.Flush()
	want := []Loss{
		{Kind: LossDiscontinuity, From: 509, To: 3},
		{Kind: LossSeqGap, From: 8, To: 8, Count: 1},
	}
	if fmt.Sprint(c.losses) != fmt.Sprint(want) {
		t.Errorf("losses %+v, want %+v", c.losses, want)
	}
	late := 0
	for _, e := range c.events {
		if e.Late {
			late++
		}
	}
	if late != 1 || len(c.events) != 17 {
		t.Errorf("%d events, %d late", len(c.events), late)
	}
}
