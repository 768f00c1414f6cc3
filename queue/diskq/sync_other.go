//go:build !linux

package diskq

import "os"

// datasync flushes f to stable storage.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback does nothing here: the next sync writes the range.
func startWriteback(*os.File, int64, int64) {}
