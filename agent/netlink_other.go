//go:build !linux

package agent

import (
	"context"
	"errors"
	"time"

	"github.com/rampart-sec/rampart/audit"
)

// NetlinkOptions configure RunNetlink (Linux only).
type NetlinkOptions struct {
	Mode         audit.Mode
	Rules        []string
	BacklogLimit uint32
	Heartbeat    time.Duration
	StatusEvery  time.Duration
	Reassembler  audit.ReassemblerConfig
	Ready        func()
	Coalesce     time.Duration
}

// RunNetlink needs the Linux audit subsystem.
func (a *Agent) RunNetlink(context.Context, NetlinkOptions) error {
	return errors.New("the kernel audit subsystem is only available on Linux")
}

// ProcExe needs /proc.
func ProcExe(int) (string, bool) { return "", false }
