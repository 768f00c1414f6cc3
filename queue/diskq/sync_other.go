//go:build !linux

package diskq

import "os"

// startWriteback does nothing here: the next sync writes the range.
func startWriteback(*os.File, int64, int64) {}
