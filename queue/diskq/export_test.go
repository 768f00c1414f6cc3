package diskq

import (
	"os"
	"path/filepath"
)

// Commits exposes the number of write+sync rounds to the external tests.
func Commits(q *Queue) int64 { return q.commits.Load() }

// Datasync exposes the queue's own data sync to the external benchmarks.
func Datasync(f *os.File) error { return datasync(f) }

// DirectWriter opens path for direct writes the way the queue writes its
// newest segment, for the external benchmarks: write takes a buffer from
// AlignedBuffer and a block-aligned offset. It returns nil where the
// queue would write buffered (see direct.go).
func DirectWriter(path string) (write func(b []byte, off int64) error, closeFn func() error) {
	if !directSupported(filepath.Dir(path)) {
		return nil, nil
	}
	d := openDirect(path)
	if d == nil {
		return nil, nil
	}
	return func(b []byte, off int64) error { return d.pwrite(b, off) }, d.close
}

// AlignedBuffer exposes alignedBuffer to the external benchmarks.
func AlignedBuffer(n int) []byte { return alignedBuffer(n) }
