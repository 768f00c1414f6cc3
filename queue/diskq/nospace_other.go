//go:build !windows

package diskq

import (
	"errors"
	"syscall"
)

// isNoSpace reports whether a write failed for lack of room: the file
// system is full (ENOSPC), the user's quota is used up (EDQUOT), or the
// file may grow no further (EFBIG: the process's RLIMIT_FSIZE, or the
// file system's largest file).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}
