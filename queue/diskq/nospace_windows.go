package diskq

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isNoSpace reports whether a write failed for lack of room: the disk is
// full or the user's quota is used up.
func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, windows.ERROR_DISK_QUOTA_EXCEEDED)
}
