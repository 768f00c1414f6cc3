//go:build !windows

package mllp

import "syscall"

// How an accept fails for the moment, or for one connection, here.
var acceptCall, acceptErrnos = "accept4", []syscall.Errno{syscall.ENOBUFS, syscall.ENOMEM, syscall.EPROTO, syscall.EHOSTUNREACH}
