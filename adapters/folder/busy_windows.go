//go:build windows

package folder

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// busy reports whether another process still has name in p open for
// writing: an open with no sharing fails with ERROR_SHARING_VIOLATION (or
// ERROR_LOCK_VIOLATION for byte-range locks) while any other handle is
// open. Only a regular file is opened (no link, no device).
func busy(pl place, name string) (bool, error) {
	info, err := pl.root.Lstat(pl.join(name))
	if err != nil {
		return false, err
	}
	if !info.Mode().IsRegular() {
		return false, fmt.Errorf("lock check %s: %w", name, errNotRegular)
	}
	p, err := windows.UTF16PtrFromString(longPath(filepath.Join(pl.root.Name(), pl.join(name))))
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

// longPath is p as CreateFile reaches it past MAX_PATH (260 characters):
// with the \\?\ prefix, which turns off Win32's parsing of the path and
// its length limit, as Go's os package does for its own calls. The prefix
// needs an absolute path with no . or .. (filepath.Abs cleans it); a
// share's \\server\share becomes \\?\UNC\server\share. Shorter paths are
// left as they are.
func longPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) || strings.HasPrefix(p, `\\.\`) {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if strings.HasPrefix(abs, `\\`) {
		return `\\?\UNC\` + abs[2:]
	}
	return `\\?\` + abs
}
