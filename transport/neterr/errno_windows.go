//go:build windows

package neterr

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// Winsock's numbers, which Windows' socket calls fail with.
const (
	connResetWin    = windows.WSAECONNRESET
	connRefusedWin  = windows.WSAECONNREFUSED
	addrInUseWin    = windows.WSAEADDRINUSE
	netUnreachWin   = windows.WSAENETUNREACH
	hostUnreachWin  = windows.WSAEHOSTUNREACH
	accessWin       = windows.WSAEACCES
	addrNotAvailWin = windows.WSAEADDRNOTAVAIL
	connAbortedWin  = windows.WSAECONNABORTED
	timedOutWin     = windows.WSAETIMEDOUT
)

// An accept that failed for the moment: no socket could be made for the
// connection (WSAEMFILE 10024, WSAENOBUFS 10055) or the network is down
// (WSAENETDOWN 10050).
var acceptRetryWin = []syscall.Errno{windows.WSAEMFILE, windows.WSAENOBUFS, windows.WSAENETDOWN}
