//go:build linux

package diskq

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directFile is a segment's O_DIRECT descriptor (see direct.go).
type directFile struct {
	fd   int
	path string
	tail directTail
	gate *rawGate // the queue's, for a segment's writes; nil: ordinary calls
}

// directSupported reports whether dir's file system is one whose
// fdatasync is known to flush the disk's cache after direct writes.
func directSupported(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC:
		return true
	}
	return false
}

// openDirect opens path for direct writes, or returns nil when the file
// system refuses O_DIRECT.
func openDirect(path string) *directFile {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return &directFile{fd: fd, path: path, tail: directTail{off: -1}}
}

func (d *directFile) pwrite(b []byte, off int64) error {
	for len(b) > 0 {
		var n int
		var err error
		if d.gate.raw() {
			start := time.Now()
			n, err = rawPwrite(d.fd, b, off)
			d.gate.took(time.Since(start))
		} else {
			n, err = unix.Pwrite(d.fd, b, off)
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%w: %s: %w", errDirect, filepath.Base(d.path), err)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", filepath.Base(d.path), err)
		}
		if n == 0 {
			return fmt.Errorf("write %s: %w", filepath.Base(d.path), unix.EIO)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

func (d *directFile) close() error {
	if d == nil {
		return nil
	}
	return unix.Close(d.fd)
}

// alignedBuffer returns n bytes starting at a directAlign boundary.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := int(-uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1))
	return b[skip : skip+n : skip+n]
}
