//go:build !linux

package diskq

import "os"

// rawDatasync is the ordinary sync here: raw calls are made on Linux only
// (see hold.go).
func rawDatasync(f *os.File) error { return datasync(f) }
