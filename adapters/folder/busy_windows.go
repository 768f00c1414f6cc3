//go:build windows

package folder

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// busy reports whether another process still has path open for writing:
// an open with no sharing fails with ERROR_SHARING_VIOLATION (or
// ERROR_LOCK_VIOLATION for byte-range locks) while any other handle is open.
func busy(path string) (bool, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return true, nil
		}
		return false, fmt.Errorf("exclusive open: %w", err)
	}
	windows.CloseHandle(h)
	return false, nil
}
