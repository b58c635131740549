package main

import "github.com/rampart-sec/rampart/cmd/rampart/internal/runcli"

// runCommand implements "rampart run" (package runcli). The binary runs it
// from runcli's init function, before the rest of the program
// initializes; this entry point serves the in-process tests.
func (a *app) runCommand(args []string) int {
	return runcli.Main(args, a.stdin, a.stdout, a.stderr)
}
