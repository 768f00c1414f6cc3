package diskq

import "os"

// Commits exposes the number of write+sync rounds to the external tests.
func Commits(q *Queue) int64 { return q.commits.Load() }

// Datasync exposes the queue's own data sync to the external benchmarks.
func Datasync(f *os.File) error { return datasync(f) }
