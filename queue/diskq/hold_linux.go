//go:build linux

package diskq

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawDatasync is fdatasync made as a raw system call (see hold.go).
func rawDatasync(f *os.File) error {
	fd := f.Fd()
	for {
		_, _, e := unix.RawSyscall(unix.SYS_FDATASYNC, fd, 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// rawPwrite is pwrite made as a raw system call (see hold.go); like
// unix.Pwrite it returns the count and the error of one call.
func rawPwrite(fd int, b []byte, off int64) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
