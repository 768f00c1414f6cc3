package ehrdrop

import (
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader yields prefix, n bytes of fill and suffix, holding none of
// it.
type repeatReader struct {
	prefix, suffix io.Reader
	fill           byte
	n              int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if n, err := r.prefix.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if r.n > 0 {
		k := min(int64(len(p)), r.n)
		for i := range p[:k] {
			p[i] = r.fill
		}
		r.n -= k
		return int(k), nil
	}
	return r.suffix.Read(p)
}

// A bulk export's Binary.ndjson whose first line carries a large file
// inline (here 256 MiB of base64) is sniffed in bounded memory: the
// sniffer held the whole inline string, twice over, before the pipeline
// (which reads at most 64 MiB of a line) saw the file, so a gigabyte
// attachment could exhaust a small clinic server's memory, and the file,
// tried again after the restart, do it again.
func TestSniffLongFirstLineBoundedMemory(t *testing.T) {
	const fill = 128 << 20
	for _, tc := range []struct{ name, head, tail, want string }{
		{"ndjson", `{"resourceType":"Binary","id":"b1","data":"`, "\"}\n" + `{"resourceType":"Binary","id":"b2"}` + "\n", FormatFHIRNDJSON},
		{"type after the data", `{"id":"b1","data":"`, `","resourceType":"Binary"}` + "\n" + `{"resourceType":"Binary","id":"b2"}` + "\n", FormatFHIRNDJSON},
		{"one line", `{"resourceType":"Binary","id":"b1","data":"`, "\"}\n", FormatFHIRJSON},
		{"pretty", "{\n \"resourceType\": \"Binary\",\n \"data\": \"", "\"\n}\n", FormatFHIRJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &repeatReader{prefix: strings.NewReader(tc.head), suffix: strings.NewReader(tc.tail), fill: 'Q', n: fill}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got, err := Sniff(r, "Binary.json")
			runtime.ReadMemStats(&after)
			if err != nil || got.Format != tc.want || got.Type != "Binary" {
				t.Errorf("Sniff = %+v, %v; want %s of Binary", got, err, tc.want)
			}
			// Reading the first 8 MiB line costs some 48 MiB in all
			// as its buffer grows; the rest of the line nothing.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("sniffing a %d MiB line allocated %d MiB", fill>>20, alloc>>20)
			}
		})
	}
}
