package diskq

import (
	"fmt"
	"os"
	"runtime"
)

// syncDir makes file creations, renames and removals in dir durable. It is
// skipped on Windows, which cannot fsync directory metadata (as NATS's
// filestore does).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
