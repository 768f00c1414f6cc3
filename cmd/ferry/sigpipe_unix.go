//go:build !windows

package main

import (
	"os/signal"
	"syscall"
)

// ignorePipe makes a write to a closed pipe fail with EPIPE instead of
// killing the process (Go's default for standard output and error), so
// that `ferry backup -` whose reader went away records its failure.
func ignorePipe() { signal.Ignore(syscall.SIGPIPE) }
