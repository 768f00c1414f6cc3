//go:build windows

package folder

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }

func isInvalid(error) bool { return false }

// heldOpen reports whether an operation on a file failed because another
// process has it open without sharing it (a writer, a virus scanner, an
// indexer): on Windows a file open without FILE_SHARE_DELETE cannot be
// renamed. The file is not free yet, as busy finds it, which is no
// failure of the folder.
func heldOpen(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// renameAcross has no Windows counterpart of renameat: a move between two
// Roots is a copy.
func renameAcross(place, string, place, string) error { return errors.ErrUnsupported }

// oNonblock: Windows has no named pipes among files in a folder.
const oNonblock = 0

// reservedName reports whether name is one Windows reserves for a device
// (CON, PRN, AUX, NUL, COM1 to COM9, LPT1 to LPT9; with an extension too
// before Windows 11): a Win32 path to such a file opens the device, and
// os.Root refuses the name as it does any that is not local. Such a file
// can only come from elsewhere (a Linux or macOS client of a share, WSL).
func reservedName(name string) bool { return !filepath.IsLocal(name) }
