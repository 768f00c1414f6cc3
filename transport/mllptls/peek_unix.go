//go:build unix

package mllptls

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peekSocket says, without waiting and without taking anything, what the
// socket under a connection holds: nothing, bytes, or the peer's close
// (FIN or a reset).
func peekSocket(rc syscall.RawConn) sockState {
	st := sockUnknown
	err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			st = sockEmpty
		case err == unix.EINTR:
			st = sockUnknown
		case err != nil || n == 0:
			st = sockClosed
		default:
			st = sockBytes
		}
		return true // never wait for the socket to become readable
	})
	if err != nil {
		return sockClosed // the connection is closed on our side
	}
	return st
}
