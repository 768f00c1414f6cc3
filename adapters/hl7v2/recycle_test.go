package hl7v2

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestRecycleSameReading: a message parsed into the memory of recycled
// ones reads exactly as a fresh parse does, segment by segment and field
// by field, whichever (longer or shorter) messages used that memory
// before; goroutines share the pool (run it with -race too).
func TestRecycleSameReading(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/convert/v2-*/input.hl7")
	if len(files) == 0 {
		t.Fatal("no test messages")
	}
	type reading struct {
		raw    []byte
		fields [][]string
	}
	read := func(m *Message) [][]string {
		var out [][]string
		for _, s := range m.Segments() {
			f := []string{s.Name}
			for i := 1; i <= s.NumFields(); i++ {
				f = append(f, s.Field(i).String())
			}
			out = append(out, f)
		}
		return out
	}
	var want []reading
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw)
		if err != nil {
			continue
		}
		want = append(want, reading{raw, read(m)})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 * len(want) {
				w := want[(i*(g+1))%len(want)]
				m, err := ParseShared(w.raw)
				if err != nil {
					t.Error(err)
					return
				}
				got := read(m)
				m.Recycle()
				if len(got) != len(w.fields) {
					t.Errorf("%d segments after recycling, want %d", len(got), len(w.fields))
					continue
				}
				for j := range got {
					if len(got[j]) != len(w.fields[j]) {
						t.Errorf("segment %d: %d fields, want %d", j+1, len(got[j]), len(w.fields[j]))
						continue
					}
					for k := range got[j] {
						if got[j][k] != w.fields[j][k] {
							t.Errorf("segment %d field %d: %q, want %q", j+1, k, got[j][k], w.fields[j][k])
						}
					}
				}
			}
		})
	}
	wg.Wait()
}
