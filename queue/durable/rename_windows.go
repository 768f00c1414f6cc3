//go:build windows

package durable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// renameRetryFor bounds how long rename waits out other opens of the
// destination.
const renameRetryFor = 2 * time.Second

// rename replaces newpath with oldpath. On Windows MoveFileEx cannot
// replace a file that anyone has open (a reader of the previous version,
// the virus scanner or the search indexer that opens every file just
// written): it fails with ERROR_ACCESS_DENIED or ERROR_SHARING_VIOLATION
// until the other handle is closed, where Unix renames over open files.
// Such opens last milliseconds, so the rename is tried again for a while
// before the write is reported as failed.
//
// The move is made with MOVEFILE_WRITE_THROUGH: MoveFileEx then returns
// only once the rename is on the disk, which on Windows stands in for the
// directory sync that follows a rename elsewhere (SyncDir does nothing
// here), so a file whose rename was reported is there after a power cut.
func rename(oldpath, newpath string) error {
	deadline := time.Now().Add(renameRetryFor)
	wait := time.Millisecond
	for {
		err := moveWriteThrough(oldpath, newpath)
		if err == nil || !transientlyOpen(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func transientlyOpen(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)
}

// moveWriteThrough is os.Rename with MOVEFILE_WRITE_THROUGH added to the
// flags os.Rename uses, and its error in os.Rename's form.
func moveWriteThrough(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(fixLongPath(oldpath))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(fixLongPath(newpath))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// fixLongPath makes an absolute path longer than MAX_PATH usable with
// MoveFileEx (the \\?\ prefix), as os.Rename does for its callers.
func fixLongPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) || !filepath.IsAbs(p) {
		return p
	}
	p = filepath.Clean(p)
	if strings.HasPrefix(p, `\\`) { // UNC: \\server\share -> \\?\UNC\server\share
		return `\\?\UNC\` + p[2:]
	}
	return `\\?\` + p
}
