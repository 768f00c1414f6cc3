//go:build windows

package mllptls

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procWSAPoll = windows.NewLazySystemDLL("ws2_32.dll").NewProc("WSAPoll")

// wsaPollFD is WSAPOLLFD.
type wsaPollFD struct {
	fd      windows.Handle
	events  int16
	revents int16
}

const (
	pollRdNorm = 0x0100
	pollErr    = 0x0001
	pollHup    = 0x0002
	pollNval   = 0x0004
)

// peekSocket says, without waiting and without taking anything, what the
// socket under a connection holds: nothing, bytes, or the peer's close
// (FIN or a reset). Windows has no MSG_DONTWAIT, and Go's sockets there
// block in recv: WSAPoll with no timeout says first whether a peek would
// return at once.
func peekSocket(rc syscall.RawConn) sockState {
	st := sockUnknown
	err := rc.Read(func(fd uintptr) bool {
		if procWSAPoll.Find() != nil {
			return true
		}
		p := wsaPollFD{fd: windows.Handle(fd), events: pollRdNorm}
		r, _, _ := procWSAPoll.Call(uintptr(unsafe.Pointer(&p)), 1, 0)
		switch {
		case int32(r) < 0:
			return true // unknown
		case r == 0:
			st = sockEmpty
			return true
		case p.revents&(pollErr|pollNval) != 0:
			st = sockClosed
			return true
		}
		// Readable (or hung up): a peek returns at once, 0 bytes for
		// the peer's FIN.
		var b [1]byte
		buf := windows.WSABuf{Len: 1, Buf: &b[0]}
		var n uint32
		flags := uint32(windows.MSG_PEEK)
		switch err := windows.WSARecv(windows.Handle(fd), &buf, 1, &n, &flags, nil, nil); {
		case err != nil || n == 0:
			st = sockClosed
		default:
			st = sockBytes
		}
		return true
	})
	if err != nil {
		return sockClosed // the connection is closed on our side
	}
	return st
}
