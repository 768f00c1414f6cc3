package ops

import "golang.org/x/sys/unix"

// MemoryFS reports whether dir is on a file system kept only in memory
// (tmpfs, ramfs), whose contents a reboot loses.
func MemoryFS(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
