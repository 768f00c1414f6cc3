//go:build linux

package queuetest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// SmallDisk mounts a tmpfs of size bytes for the test and returns its path,
// with fill, which fills it to the last byte (a disk full for real:
// writes that need a new block fail with ENOSPC), and free, which frees
// that room again. The test is skipped where it may not mount (not
// root, no CAP_SYS_ADMIN); the mount goes when the test ends.
func SmallDisk(t testing.TB, size int) (dir string, fill, free func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs")
	}
	dir = t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	fill = func() {
		t.Helper()
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for _, n := range []int{len(chunk), 4096, 512, 1} {
			for {
				if _, err := f.Write(chunk[:n]); err != nil {
					break
				}
			}
		}
	}
	free = func() {
		t.Helper()
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
	return dir, fill, free
}
