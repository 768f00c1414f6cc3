//go:build !windows

package ops

import "os"

// openShared opens a live backup's snapshot file for reading (see the
// Windows version for why it is not os.Open there).
func openShared(path string) (*os.File, error) { return os.Open(path) }
