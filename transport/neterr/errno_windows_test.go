package neterr

import "golang.org/x/sys/windows"

// How the failed calls report on Windows: Winsock's numbers.
const (
	testCall     = "wsarecv"
	testReset    = windows.WSAECONNRESET
	testRefused  = windows.WSAECONNREFUSED
	testInUse    = windows.WSAEADDRINUSE
	testUnreach  = windows.WSAENETUNREACH
	testDenied   = windows.WSAEACCES
	testNotAvail = windows.WSAEADDRNOTAVAIL
	testAborted  = windows.WSAECONNABORTED
	testTimedOut = windows.WSAETIMEDOUT

	testAcceptCall = "socket"
	testNoBuffers  = windows.WSAENOBUFS
)
