//go:build windows

package durable

import (
	"errors"
	"os"
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
func rename(oldpath, newpath string) error {
	deadline := time.Now().Add(renameRetryFor)
	wait := time.Millisecond
	for {
		err := os.Rename(oldpath, newpath)
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
