//go:build !windows

package mllp

import (
	"errors"
	"syscall"
)

// isConnReset reports a connection the peer reset.
func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
