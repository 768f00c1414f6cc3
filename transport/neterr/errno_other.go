//go:build !windows

package neterr

import "syscall"

const (
	connReset    = syscall.ECONNRESET
	connRefused  = syscall.ECONNREFUSED
	addrInUse    = syscall.EADDRINUSE
	netUnreach   = syscall.ENETUNREACH
	hostUnreach  = syscall.EHOSTUNREACH
	access       = syscall.EACCES
	addrNotAvail = syscall.EADDRNOTAVAIL
	// Winsock's numbers do not occur here: the same errors again.
	connResetWin    = connReset
	connRefusedWin  = connRefused
	addrInUseWin    = addrInUse
	netUnreachWin   = netUnreach
	hostUnreachWin  = hostUnreach
	accessWin       = access
	addrNotAvailWin = addrNotAvail
)
