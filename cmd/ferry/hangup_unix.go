//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// hangups delivers the SIGHUPs ferry gets until stop is called. It is nil
// when ferry was started with SIGHUP ignored (nohup): asking for the
// signal would undo that.
func hangups() (c <-chan os.Signal, stop func()) {
	if signal.Ignored(syscall.SIGHUP) {
		return nil, func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}
