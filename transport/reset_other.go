//go:build !windows

package transport

import (
	"errors"
	"syscall"
)

// isConnReset reports a connection the peer reset.
func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
