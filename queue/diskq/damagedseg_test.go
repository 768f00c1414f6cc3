package diskq

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedOlderSegmentReported damages a whole segment that is not the
// newest (zeroed, as a file system repair leaves a file, or cut to
// nothing): its items are lost, which Open must report as damage, not
// take for a segment whose creation a crash cut short and remove in
// silence, nor log as the unused pre-zeroed space only the newest
// segment has.
func TestDamagedOlderSegmentReported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string, size int64) error
	}{
		{"zeroed", func(path string, size int64) error { return os.WriteFile(path, make([]byte, size), 0o600) }},
		{"emptied", func(path string, size int64) error { return os.Truncate(path, 0) }},
		{"zeroed after its header", func(path string, size int64) error {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteAt(make([]byte, size-segHeaderLen), segHeaderLen)
			return errors.Join(err, f.Close())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, dir, Options{SegmentBytes: 4096})
			for i := range 60 {
				put(t, q, "", i)
			}
			closeQ(t, q)
			segs := segFiles(t, dir)
			if len(segs) < 3 {
				t.Fatalf("%d segments, want at least 3", len(segs))
			}
			st, err := os.Stat(segs[1])
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(segs[1], st.Size()); err != nil {
				t.Fatal(err)
			}

			var logs logBuf
			q = open(t, dir, Options{SegmentBytes: 4096, Logger: logs.logger()})
			defer closeQ(t, q)
			if s := q.Stats(); s.Corrupt == 0 {
				t.Errorf("Corrupt = 0 after the items of a whole segment were lost; log: %s", logs.String())
			}
			out := logs.String()
			name := filepath.Base(segs[1])
			if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, name) {
				t.Errorf("loss of segment %s not logged as an error: %s", name, out)
			}
			if strings.Contains(out, "no record lost") {
				t.Errorf("loss of segment %s logged as no loss too: %s", name, out)
			}
			if n := q.Len(); n == 0 || n >= 60 {
				t.Errorf("Len = %d, want the items of the intact segments only", n)
			}
		})
	}
}
