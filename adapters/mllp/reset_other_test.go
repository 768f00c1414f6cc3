//go:build !windows

package mllp

import "syscall"

// How a reset reaches a read here.
const resetCall, resetErrno = "read", syscall.ECONNRESET
