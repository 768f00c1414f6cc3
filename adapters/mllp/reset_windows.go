//go:build windows

package mllp

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// isConnReset reports a connection the peer reset. On Windows the socket
// calls fail with WSAECONNRESET (10054), which syscall.ECONNRESET (a
// number Go invents there) does not match.
func isConnReset(err error) bool {
	return errors.Is(err, windows.WSAECONNRESET) || errors.Is(err, syscall.ECONNRESET)
}
