package v2fhir

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestConvertLeasedSameBytes: a leased conversion gives the bytes Convert
// gives, in every mode and whatever the leased memory held before: four
// goroutines convert every test message in turn, each releasing its
// lease once the bundle and its parts are encoded, so that leases move
// between messages of different types and between goroutines (run it
// with -race too).
func TestConvertLeasedSameBytes(t *testing.T) {
	inputs, _ := filepath.Glob("../../../testdata/convert/*/input.hl7")
	if len(inputs) == 0 {
		t.Fatal("no test messages")
	}
	type want struct {
		conv  *Converter
		raw   []byte
		whole []byte
		parts [][]byte
		err   string
	}
	encode := func(c *Converter, b *fhir.Bundle) ([]byte, [][]byte) {
		whole, err := fhir.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := c.Parts(b)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, p := range parts {
			j, err := fhir.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, j)
		}
		return whole, out
	}
	var wants []want
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := &Converter{Mode: mode}
		for _, in := range inputs {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			w := want{conv: c, raw: raw}
			m, err := hl7v2.Parse(raw)
			if err != nil {
				continue
			}
			b, _, err := c.Convert(m, raw)
			if err != nil {
				w.err = err.Error()
			} else {
				w.whole, w.parts = encode(c, b)
			}
			wants = append(wants, w)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 3 {
				for i := range wants {
					w := wants[(i+g*7+round)%len(wants)]
					m, err := hl7v2.Parse(w.raw)
					if err != nil {
						t.Error(err)
						return
					}
					b, _, lease, err := w.conv.ConvertLeased(m, w.raw)
					if err != nil {
						if err.Error() != w.err {
							t.Errorf("leased: error %v, want %q", err, w.err)
						}
						continue
					}
					whole, parts := encode(w.conv, b)
					lease.Release()
					if !bytes.Equal(whole, w.whole) || len(parts) != len(w.parts) {
						t.Errorf("leased conversion of %d bytes differs", len(w.raw))
						continue
					}
					for j := range parts {
						if !bytes.Equal(parts[j], w.parts[j]) {
							t.Errorf("leased conversion of %d bytes: part %d differs", len(w.raw), j+1)
						}
					}
				}
			}
		})
	}
	wg.Wait()
}
