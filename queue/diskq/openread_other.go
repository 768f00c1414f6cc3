//go:build !windows

package diskq

import "os"

// openRead opens a body file for reading (see openread_windows.go).
func openRead(path string) (*os.File, error) { return os.Open(path) }
