// Package neterr names the socket errors ferry treats specially, the same
// way on every system. On Windows the socket calls fail with Winsock's
// own numbers (WSAECONNRESET 10054, WSAECONNREFUSED 10061, WSAEADDRINUSE
// 10048, WSAENETUNREACH 10051, WSAEHOSTUNREACH 10065, WSAEACCES 10013,
// WSAEADDRNOTAVAIL 10049, WSAECONNABORTED 10053, WSAETIMEDOUT 10060), which the syscall package's ECONNRESET and the like (numbers Go
// invents there) do not match; each function here matches both.
package neterr

import (
	"errors"
	"syscall"
)

// The errors as the syscall package names them; errno_*.go adds Winsock's
// numbers (the same errors again where Winsock is not used).
const (
	connReset    = syscall.ECONNRESET
	connRefused  = syscall.ECONNREFUSED
	addrInUse    = syscall.EADDRINUSE
	netUnreach   = syscall.ENETUNREACH
	hostUnreach  = syscall.EHOSTUNREACH
	access       = syscall.EACCES
	addrNotAvail = syscall.EADDRNOTAVAIL
	connAborted  = syscall.ECONNABORTED
	timedOut     = syscall.ETIMEDOUT
)

// The errors of an accept that failed for the moment or for the one
// connection (see AcceptRetry), Winsock's among them where it is used.
var acceptRetry = append([]syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EPROTO, syscall.EPERM,
	syscall.ENETDOWN, syscall.ENOPROTOOPT, syscall.EHOSTDOWN, syscall.EOPNOTSUPP,
}, acceptRetryWin...)

// ConnReset reports a connection the peer reset.
func ConnReset(err error) bool { return errors.Is(err, connReset) || errors.Is(err, connResetWin) }

// ConnRefused reports a connection nothing listened for.
func ConnRefused(err error) bool {
	return errors.Is(err, connRefused) || errors.Is(err, connRefusedWin)
}

// AddrInUse reports a listen on an address another socket holds.
func AddrInUse(err error) bool { return errors.Is(err, addrInUse) || errors.Is(err, addrInUseWin) }

// Unreachable reports a connection the network had no route for (the
// network or a VPN down).
func Unreachable(err error) bool {
	return errors.Is(err, netUnreach) || errors.Is(err, hostUnreach) ||
		errors.Is(err, netUnreachWin) || errors.Is(err, hostUnreachWin)
}

// AccessDenied reports a socket the system forbids this account (a
// privileged port; on Windows also a port another service reserved).
func AccessDenied(err error) bool { return errors.Is(err, access) || errors.Is(err, accessWin) }

// AddrNotAvail reports an address this machine does not have.
func AddrNotAvail(err error) bool {
	return errors.Is(err, addrNotAvail) || errors.Is(err, addrNotAvailWin)
}

// ConnAborted reports a connection this machine ended: on Windows
// WSAECONNABORTED, "an established connection was aborted by the
// software in your host machine", when retransmissions or keep-alives go
// unanswered or a firewall or antivirus cuts it.
func ConnAborted(err error) bool {
	return errors.Is(err, connAborted) || errors.Is(err, connAbortedWin)
}

// TimedOut reports a connection the system gave up on because the peer
// stopped answering (ETIMEDOUT, Winsock's WSAETIMEDOUT). Elsewhere
// net.Error's Timeout says so too; on Windows it does not know Winsock's
// number.
func TimedOut(err error) bool { return errors.Is(err, timedOut) || errors.Is(err, timedOutWin) }

// AcceptRetry reports an accept that failed for the moment or for the one
// connection, not for the listener, which takes the next connection once
// it passes: the system short of descriptors, buffers or memory (EMFILE,
// ENFILE, ENOBUFS, ENOMEM; Winsock's WSAEMFILE and WSAENOBUFS, which the
// syscall package's Temporary does not know), or a network error of the
// connection being accepted, which Linux returns from accept(2) and asks
// to be treated "like EAGAIN by retrying" (EPROTO, EPERM for a firewall
// rule, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, EOPNOTSUPP, unreachable, reset,
// aborted, timed out).
func AcceptRetry(err error) bool {
	if ConnReset(err) || ConnAborted(err) || Unreachable(err) || TimedOut(err) {
		return true
	}
	for _, e := range acceptRetry {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
