//go:build !linux

package ops

// MemoryFS reports whether dir is on a file system kept only in memory;
// only Linux is asked.
func MemoryFS(string) bool { return false }
