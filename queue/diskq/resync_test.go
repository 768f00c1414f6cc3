package diskq

import (
	"bytes"
	"os"
	"testing"
)

// TestResyncSkipsImpossibleRecords damages a segment with bytes in which
// every fourth offset announces a record length that fits in the file
// (as random-looking bytes, a sealed body, do at one offset in a few
// hundred) but no record that can be there: Open must find the good
// record after them without checking the CRC of each such offset, which
// costs its announced length every time (one damaged header in front of
// 50 MB of sealed bodies kept Open busy for 100 s).
func TestResyncSkipsImpossibleRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern []byte
	}{
		// Little-endian 0x00008007: a length of 32 KB, type byte 0x07.
		// The other three phases announce lengths past the end of the
		// file or impossible ones.
		{"no record type", []byte{0x07, 0x80, 0x00, 0x00}},
		// 0x00008001: a PUT of 32 KB whose seq, 0x0100008001000080, is
		// far beyond any the segment's own records could have taken.
		{"seq beyond the segment", []byte{0x01, 0x80, 0x00, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, dir, Options{})
			put(t, q, "", 1)
			closeQ(t, q)
			path := segFiles(t, dir)[0]
			seg, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			damage := bytes.Repeat(tc.pattern, 16<<10)
			out := append(append(append([]byte(nil), seg[:segHeaderLen]...), damage...), seg[segHeaderLen:]...)
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}

			before := resyncCRCs.Load()
			var logs logBuf
			q = open(t, dir, Options{Logger: logs.logger()})
			defer closeQ(t, q)
			if n := q.Len(); n != 1 {
				t.Fatalf("Len = %d, want the good record after the damage; log: %s", n, logs.String())
			}
			if s := q.Stats(); s.Corrupt != 1 {
				t.Fatalf("Corrupt = %d, want 1", s.Corrupt)
			}
			if n := resyncCRCs.Load() - before; n > 8 {
				t.Fatalf("resync checked the CRC of %d offsets where no record can start, each over its announced 32 KB", n)
			}
		})
	}
}
