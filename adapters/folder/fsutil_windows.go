//go:build windows

package folder

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }

func isInvalid(error) bool { return false }

// renameAcross has no Windows counterpart of renameat: a move between two
// Roots is a copy.
func renameAcross(place, string, place, string) error { return errors.ErrUnsupported }

// oNonblock: Windows has no named pipes among files in a folder.
const oNonblock = 0
