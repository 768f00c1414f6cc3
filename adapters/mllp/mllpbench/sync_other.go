//go:build !linux

package mllpbench

import "os"

func datasync(f *os.File) error { return f.Sync() }
