//go:build !windows

package neterr

import "syscall"

// Winsock's numbers do not occur here: the same errors again.
const (
	connResetWin    = connReset
	connRefusedWin  = connRefused
	addrInUseWin    = addrInUse
	netUnreachWin   = netUnreach
	hostUnreachWin  = hostUnreach
	accessWin       = access
	addrNotAvailWin = addrNotAvail
	connAbortedWin  = connAborted
	timedOutWin     = timedOut
)

var acceptRetryWin []syscall.Errno
