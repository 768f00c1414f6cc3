//go:build !linux

package diskq_test

import (
	"os"
	"time"
)

func datasync(f *os.File) error { return f.Sync() }

func cpuTime() time.Duration { return 0 }
