package fhir_test

import (
	"os"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// BenchmarkSplitEncode is the share of an HL7 v2 message's ingest this
// package owns: a real converted bundle (the corpus's CBC ORU^R01, in the
// default patient-conditional mode) split into the exchange's transactions
// (SplitSharingAll) and each part encoded (AppendJSON), without the parse
// and the conversion that BenchmarkHL7Convert also measures.
func BenchmarkSplitEncode(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/convert/v2-oru-r01-cbc/input.hl7")
	if err != nil {
		b.Fatal(err)
	}
	m, err := hl7v2.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	bundle, _, err := (&v2fhir.Converter{Mode: v2fhir.ModePatientConditional}).Convert(m, raw)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 16<<10)
	b.Run("split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fhir.SplitSharingAll(bundle, fhir.MaxConditionalEntries); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("both", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parts, err := fhir.SplitSharingAll(bundle, fhir.MaxConditionalEntries)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range parts {
				if buf, err = fhir.AppendJSON(buf[:0], p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		parts, err := fhir.SplitSharingAll(bundle, fhir.MaxConditionalEntries)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range parts {
				if buf, err = fhir.AppendJSON(buf[:0], p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
