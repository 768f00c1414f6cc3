package durable

import "sync/atomic"

// SyncDir fsyncs a directory so that files created, renamed or removed in
// it survive a power cut (on Windows it does nothing: see syncDir).
func SyncDir(dir string) error {
	if f := syncDirTrace.Load(); f != nil {
		(*f)(dir)
	}
	return syncDir(dir)
}

// syncDirTrace is TraceSyncDir's function, or nil.
var syncDirTrace atomic.Pointer[func(dir string)]

// TraceSyncDir has f called with every directory SyncDir syncs (in every
// package: MkdirAll, Commit and the callers of SyncDir) until stop is
// called. It is for tests: whether a directory was synced cannot be seen
// from outside, and a new folder whose parent was not synced may be gone
// after a power cut with everything in it. f may be called concurrently.
func TraceSyncDir(f func(dir string)) (stop func()) {
	syncDirTrace.Store(&f)
	return func() { syncDirTrace.CompareAndSwap(&f, nil) }
}
