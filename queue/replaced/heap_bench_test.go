package replaced

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkOpenFullHeap reports the heap a registry holds once opened at
// its default retention (DefaultMaxKeys keys), the figure its doc comment
// and the README give: go test -run '^$' -bench OpenFullHeap ./queue/replaced
func BenchmarkOpenFullHeap(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	r, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 0, 1000)
	for i := 0; i < DefaultMaxKeys; i++ {
		keys = append(keys, fmt.Sprintf("ccda DocumentReference/%d", i))
		if len(keys) == cap(keys) {
			if err := r.Add(keys...); err != nil {
				b.Fatal(err)
			}
			keys = keys[:0]
		}
	}
	r.Close()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b.ResetTimer()
	for b.Loop() {
		before := heap()
		r, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(heap()-before)/1e6, "heap-MB")
		if r.Len() != DefaultMaxKeys {
			b.Fatalf("%d keys, want %d", r.Len(), DefaultMaxKeys)
		}
		r.Close()
	}
}
