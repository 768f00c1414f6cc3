package ops

import (
	"os"

	"golang.org/x/sys/windows"
)

// openShared opens a live backup's snapshot file for reading without
// keeping the gateway from removing the file's other name: os.Open shares
// reading and writing but not deletion, and a file open without
// FILE_SHARE_DELETE cannot be deleted under any of its hard links, so the
// gateway's removal of a delivered segment, a released held entry or a
// settled body would fail while the archive reads it.
func openShared(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
