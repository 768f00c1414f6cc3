//go:build windows

package neterr

import "golang.org/x/sys/windows"

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
