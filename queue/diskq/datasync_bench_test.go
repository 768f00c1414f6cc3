package diskq_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
)

// BenchmarkDatasync measures what the disk itself charges for one commit,
// without the queue: write n bytes into a file whose blocks are already
// written (as the queue's pre-zeroed segments are), then fdatasync
// (os.File.Sync elsewhere). This is the floor under every ACK of a lone
// MLLP connection; "cpu-µs/op" is the kernel's CPU per commit.
//
//	go test ./queue/diskq -run '^$' -bench Datasync -benchtime 2000x
func BenchmarkDatasync(b *testing.B) {
	for _, n := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10} {
		b.Run(fmt.Sprintf("bytes=%d", n), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "seg"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			size := int64(b.N) * int64(n)
			zero := make([]byte, 1<<20)
			for off := int64(0); off < size; off += int64(len(zero)) {
				if _, err := f.WriteAt(zero, off); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, n)
			for i := range buf {
				buf[i] = byte(i)
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(buf, int64(i)*int64(n)); err != nil {
					b.Fatal(err)
				}
				if err := diskq.Datasync(f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
