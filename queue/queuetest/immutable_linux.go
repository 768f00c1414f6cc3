//go:build linux

package queuetest

import (
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// SetImmutable sets the immutable attribute of a file or directory (what
// `chattr +i` does), under which ext4 refuses writes, truncates, renames
// and new entries, even through descriptors opened before: a real storage
// failure for tests of the paths that must survive one. It returns the
// function that clears the attribute again, which also runs when the test
// ends. The test is skipped where the attribute cannot be set (no
// CAP_LINUX_IMMUTABLE, a file system without it).
func SetImmutable(t testing.TB, path string) (clear func()) {
	t.Helper()
	const immutable = 0x10 // FS_IMMUTABLE_FL
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|immutable))
	}
	if err != nil {
		t.Skipf("cannot make %s immutable: %v", path, err)
	}
	var once sync.Once
	clear = func() {
		once.Do(func() {
			f, err := os.Open(path)
			if err == nil {
				err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags&^immutable))
				f.Close()
			}
			if err != nil {
				t.Errorf("clear the immutable attribute of %s: %v", path, err)
			}
		})
	}
	t.Cleanup(clear)
	return clear
}
