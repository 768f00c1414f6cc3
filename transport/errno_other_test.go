//go:build !windows

package transport

import "syscall"

// How a connection the system gave up on mid-request reports here: the
// read that was waiting for the answer fails with these.
const (
	testCall     = "read"
	testAborted  = syscall.ECONNABORTED
	testTimedOut = syscall.ETIMEDOUT
)
