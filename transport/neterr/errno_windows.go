//go:build windows

package neterr

import (
	"syscall"

	"golang.org/x/sys/windows"
)

const (
	connReset       = syscall.ECONNRESET
	connRefused     = syscall.ECONNREFUSED
	addrInUse       = syscall.EADDRINUSE
	netUnreach      = syscall.ENETUNREACH
	hostUnreach     = syscall.EHOSTUNREACH
	access          = syscall.EACCES
	addrNotAvail    = syscall.EADDRNOTAVAIL
	connResetWin    = windows.WSAECONNRESET
	connRefusedWin  = windows.WSAECONNREFUSED
	addrInUseWin    = windows.WSAEADDRINUSE
	netUnreachWin   = windows.WSAENETUNREACH
	hostUnreachWin  = windows.WSAEHOSTUNREACH
	accessWin       = windows.WSAEACCES
	addrNotAvailWin = windows.WSAEADDRNOTAVAIL
)
