package diskq

// Commits exposes the number of write+sync rounds to the external tests.
func Commits(q *Queue) int64 { return q.commits.Load() }
