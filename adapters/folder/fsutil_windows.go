//go:build windows

package folder

import (
	"errors"

	"golang.org/x/sys/windows"
)

// syncDir is a no-op: Windows cannot fsync directory metadata, and NTFS
// journals renames itself.
func syncDir(string) error { return nil }

func isCrossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }
