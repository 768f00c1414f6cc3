package transport

import "golang.org/x/sys/windows"

// How a connection the system gave up on mid-request reports on Windows:
// Winsock's numbers, which net.Error's Timeout does not know
// (WSAETIMEDOUT is not syscall.ETIMEDOUT there).
const (
	testCall     = "wsarecv"
	testAborted  = windows.WSAECONNABORTED
	testTimedOut = windows.WSAETIMEDOUT
)
