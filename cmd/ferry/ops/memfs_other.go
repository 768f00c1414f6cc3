//go:build !linux

package ops

// memoryFS reports whether dir is on a file system kept only in memory;
// only Linux is asked.
func memoryFS(string) bool { return false }
