//go:build !windows

package durable

import "os"

// rename replaces newpath with oldpath; Unix renames over open files.
func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
