//go:build !windows

package folder

import (
	"errors"
	"syscall"
)

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
