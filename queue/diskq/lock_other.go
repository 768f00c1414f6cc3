//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package diskq

import (
	"fmt"
	"os"
)

// lockFile only creates the lock file on platforms without flock or
// LockFileEx; running two gateways on one data directory is then the
// operator's mistake to avoid.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

func unlockFile(f *os.File) error { return f.Close() }

// lockHeld cannot tell without a lock to ask about.
func lockHeld(path string) (bool, error) { return false, nil }
