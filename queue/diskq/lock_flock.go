//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package diskq

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock(2) on path. flock locks belong to the
// open file description, so a second Open in the same process fails too,
// and the kernel drops the lock when the process dies (no stale lock files).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	for i := 0; errors.Is(err, unix.EWOULDBLOCK) && i < lockRetries; i++ {
		// A reader's probe (InUse: `ferry status`) holds a shared lock
		// for an instant; a gateway starting then waits it out.
		time.Sleep(lockRetryWait)
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func unlockFile(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
		f.Close()
		return fmt.Errorf("unlock %s: %w", f.Name(), err)
	}
	return f.Close()
}

// lockHeld reports whether another open file description holds the lock
// on path. It asks for a shared lock, which an exclusive holder refuses,
// and drops it at once: a reader never keeps the queue from a gateway.
func lockHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	return false, unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
