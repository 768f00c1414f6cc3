package mllp

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// How an accept fails for the moment on Windows: the socket for the new
// connection cannot be made.
var acceptCall, acceptErrnos = "socket", []syscall.Errno{windows.WSAENOBUFS, windows.WSAEMFILE}
