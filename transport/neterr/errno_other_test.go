//go:build !windows

package neterr

import "syscall"

// How the failed calls report here.
const (
	testCall     = "read"
	testReset    = syscall.ECONNRESET
	testRefused  = syscall.ECONNREFUSED
	testInUse    = syscall.EADDRINUSE
	testUnreach  = syscall.EHOSTUNREACH
	testDenied   = syscall.EACCES
	testNotAvail = syscall.EADDRNOTAVAIL
	testAborted  = syscall.ECONNABORTED
	testTimedOut = syscall.ETIMEDOUT

	testAcceptCall = "accept4"
	testNoBuffers  = syscall.ENOBUFS
)
