package v2fhir

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// leaseOutput is what a conversion gives, encoded: the error, the
// Result, the bundle and every bundle the pipeline would deliver (Parts
// and the status batch).
type leaseOutput struct {
	err   string
	res   Result
	whole []byte
	parts [][]byte
}

func encodeOutput(t *testing.T, c *Converter, b *fhir.Bundle, res Result, err error) leaseOutput {
	t.Helper()
	out := leaseOutput{res: res}
	if err != nil {
		out.err = err.Error()
		return out
	}
	js, err := fhir.Marshal(b)
	if err != nil {
		t.Fatalf("bundle does not encode: %v", err)
	}
	out.whole = js
	parts, err := c.Parts(b)
	if err != nil {
		out.err = "parts: " + err.Error()
		return out
	}
	if sb := StatusBatch(b, res); sb != nil {
		parts = append(parts, sb)
	}
	for _, p := range parts {
		js, err := fhir.Marshal(p)
		if err != nil {
			t.Fatalf("part does not encode: %v", err)
		}
		out.parts = append(out.parts, js)
	}
	return out
}

func sameOutput(t *testing.T, what string, got, want leaseOutput) {
	t.Helper()
	switch {
	case got.err != want.err:
		t.Fatalf("%s: error %q, want %q", what, got.err, want.err)
	case !reflect.DeepEqual(got.res, want.res):
		t.Fatalf("%s: result %+v, want %+v", what, got.res, want.res)
	case !bytes.Equal(got.whole, want.whole):
		t.Fatalf("%s: bundle differs:\n%s\nwant\n%s", what, got.whole, want.whole)
	case len(got.parts) != len(want.parts):
		t.Fatalf("%s: %d parts, want %d", what, len(got.parts), len(want.parts))
	}
	for i := range got.parts {
		if !bytes.Equal(got.parts[i], want.parts[i]) {
			t.Fatalf("%s: part %d differs:\n%s\nwant\n%s", what, i+1, got.parts[i], want.parts[i])
		}
	}
}

// FuzzConvertLeased: a leased conversion gives, byte for byte, what
// Convert gives, whatever the leased memory held before (another
// message's bundle, released) and whatever uses it after (the lease is
// released only once the output is encoded).
func FuzzConvertLeased(f *testing.F) {
	inputs, _ := filepath.Glob("../../../testdata/convert/v2-*/input.hl7")
	var other []byte
	for _, in := range inputs {
		raw, err := os.ReadFile(in)
		if err != nil {
			continue
		}
		for _, mode := range []byte{0, 1, 2} {
			f.Add(raw, mode)
		}
		if filepath.Base(filepath.Dir(in)) == "v2-oru-r01-value-types" {
			other = raw
		}
	}
	if other == nil {
		f.Fatal("no test messages")
	}
	f.Add([]byte(minimalADT), byte(7))
	others := map[byte]leaseOutput{} // other's plain conversion, by mode
	f.Fuzz(func(t *testing.T, raw []byte, mode byte) {
		c := &Converter{Location: time.UTC, Mode: Mode(mode % 3), MaxEntries: int(mode/3) % 7, ZSegmentExtension: mode&0x40 != 0}
		plain := func(raw []byte) leaseOutput {
			m, err := hl7v2.Parse(raw)
			if err != nil {
				return leaseOutput{err: err.Error()}
			}
			b, res, err := c.Convert(m, raw)
			return encodeOutput(t, c, b, res, err)
		}
		leased := func(raw []byte) (leaseOutput, Lease) {
			m, err := hl7v2.ParseShared(raw)
			if err != nil {
				return leaseOutput{err: err.Error()}, Lease{}
			}
			b, res, lease, err := c.ConvertLeased(m, raw)
			out := encodeOutput(t, c, b, res, err)
			if err != nil && lease != (Lease{}) {
				t.Fatalf("an error with a lease: %v", err)
			}
			m.Recycle()
			return out, lease
		}
		want := plain(raw)
		wantOther, ok := others[mode]
		if !ok {
			wantOther = plain(other)
			others[mode] = wantOther
		}

		// Another message's memory, released, then this message's.
		o, lo := leased(other)
		sameOutput(t, "leased other message", o, wantOther)
		lo.Release()
		got, l := leased(raw)
		sameOutput(t, "leased after another message", got, want)
		l.Release()
		// This message's memory, released, then another message's and
		// this one's again.
		o, lo = leased(other)
		sameOutput(t, "other message leased after this one", o, wantOther)
		lo.Release()
		got, l = leased(raw)
		sameOutput(t, "leased twice", got, want)
		got2, l2 := leased(raw)
		sameOutput(t, "leased while another lease is held", got2, want)
		l.Release()
		l2.Release()
		sameOutput(t, "fresh conversion after releasing", plain(raw), want)
	})
}
