//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package folder

import (
	"errors"
	"fmt"
	"syscall"
)

// busy reports whether another process holds an exclusive advisory lock on
// name in p. HylaFAX's faxgetty creates each received fax O_EXCL and holds
// flock(LOCK_EX) for the whole receive; hfaxd treats a failing
// flock(LOCK_SH|LOCK_NB) as "being received", and so do we. Only a
// regular file is opened (openRegular): a named pipe would block the open.
func busy(p place, name string) (bool, error) {
	f, err := openRegular(p, name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			return true, nil
		}
		if errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) {
			// The filesystem has no flock (some network mounts): rely on
			// the settle time alone.
			return false, nil
		}
		return false, fmt.Errorf("lock check: %w", err)
	}
	_ = syscall.Flock(fd, syscall.LOCK_UN)
	return false, nil
}
