//go:build windows

package ops

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// permissionWords cannot read Windows ACLs in plain words here; `ferry
// install` sets them (icacls) and this reports nothing more.
func permissionWords(dir string, fi os.FileInfo, account string) (Level, string) {
	return OK, ""
}

func diskFree(dir string) (free, total uint64, err error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, 0, err
	}
	var avail, tot, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &totalFree); err != nil {
		return 0, 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return avail, tot, nil
}
