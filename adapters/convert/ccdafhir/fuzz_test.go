package ccdafhir

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzConvert (go test -fuzz FuzzConvert) feeds mutated golden documents to the converter: it must
// never panic, and whatever it accepts must marshal to JSON and pass the
// strict R4 parser.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("../../../testdata/convert/ccda-*/input.xml")
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, _, err := ConvertBytes(raw, Options{MaxBytes: 1 << 20})
		if err != nil {
			return
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("accepted document does not marshal: %v", err)
		}
		if err := strictR4(js); err != nil {
			t.Fatalf("accepted document fails strict R4: %v\n%s", err, js)
		}
	})
}

// TestMutations is a deterministic stand-in for long fuzzing runs (the
// google/fhir protobuf code linked into this test binary makes native
// fuzzing crawl): thousands of byte-level mutations of the golden inputs
// must each finish quickly, never panic, and, when accepted, pass the
// strict R4 parser.
func TestMutations(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/convert/ccda-*/input.xml")
	var seeds [][]byte
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, raw)
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		in := mutate(rng, seeds[rng.Intn(len(seeds))])
		done := make(chan error, 1)
		go func() {
			b, _, err := ConvertBytes(in, Options{})
			if err != nil {
				done <- nil
				return
			}
			js, err := json.Marshal(b)
			if err == nil {
				err = strictR4(js)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("mutation %d: %v\n%s", i, err, in)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("mutation %d did not finish:\n%s", i, in)
		}
	}
}

// mutate flips, deletes or duplicates a few byte ranges of a copy of in.
func mutate(rng *rand.Rand, in []byte) []byte {
	out := append([]byte(nil), in...)
	for k := rng.Intn(4) + 1; k > 0; k-- {
		p := rng.Intn(len(out))
		switch rng.Intn(3) {
		case 0:
			out[p] = byte(rng.Intn(256))
		case 1:
			q := min(p+rng.Intn(50), len(out))
			out = append(out[:p], out[q:]...)
		default:
			q := min(p+rng.Intn(200), len(out))
			out = append(out[:p], append(append([]byte(nil), out[p:q]...), out[p:]...)...)
		}
		if len(out) == 0 {
			out = append(out, '<')
		}
	}
	return out
}
