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
// MLLP connection; "cpu-µs/op" is the kernel's CPU per commit. The
// buffered runs write through the page cache; the direct runs write as the
// queue does on Linux ext4 and XFS (direct.go), and are skipped elsewhere.
//
//	go test ./queue/diskq -run '^$' -bench Datasync -benchtime 2000x
func BenchmarkDatasync(b *testing.B) {
	for _, mode := range []string{"buffered", "direct"} {
		for _, n := range []int{1 << 10, 4 << 10, 12 << 10, 16 << 10, 64 << 10, 128 << 10} {
			if mode == "direct" && n%4096 != 0 {
				continue // direct writes are whole blocks
			}
			b.Run(fmt.Sprintf("%s/bytes=%d", mode, n), func(b *testing.B) {
				benchmarkDatasync(b, mode == "direct", n)
			})
		}
	}
}

func benchmarkDatasync(b *testing.B, direct bool, n int) {
	path := filepath.Join(b.TempDir(), "seg")
	f, err := os.Create(path)
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
	write := func(p []byte, off int64) error { _, err := f.WriteAt(p, off); return err }
	buf := make([]byte, n)
	if direct {
		w, closeFn := diskq.DirectWriter(path)
		if w == nil {
			b.Skip("the queue writes buffered here")
		}
		defer closeFn()
		write, buf = w, diskq.AlignedBuffer(n)
	}
	for i := range buf {
		buf[i] = byte(i)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if err := write(buf, int64(i)*int64(n)); err != nil {
			b.Fatal(err)
		}
		if err := diskq.Datasync(f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
