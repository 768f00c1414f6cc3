package pipeline

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/mllp/mllpbench"
)

// BenchmarkHL7Convert is the ingest's conversion of one ORU^R01 (the
// corpus's CBC: 4 results) in each write mode: parse, convert, split into
// the exchange's transactions and encode them, what every message costs
// before the queue.
func BenchmarkHL7Convert(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/convert/v2-oru-r01-cbc/input.hl7")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkHL7Convert(b, raw)
}

// BenchmarkHL7ConvertCR is BenchmarkHL7Convert with the message as MLLP
// senders frame it, segments ended by CR alone (the corpus file has LF,
// which the parser must copy the message to rewrite).
func BenchmarkHL7ConvertCR(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/convert/v2-oru-r01-cbc/input.hl7")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkHL7Convert(b, bytes.ReplaceAll(raw, []byte("\n"), []byte("\r")))
}

func benchmarkHL7Convert(b *testing.B, raw []byte) {
	for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional} {
		b.Run(mode.String(), func(b *testing.B) {
			h := HL7{Conv: &v2fhir.Converter{Mode: mode}}
			in := adapters.Raw{Source: "bench", Format: "hl7v2", Name: "m", Body: raw}
			b.ReportAllocs()
			for b.Loop() {
				units, err := h.Convert(context.Background(), in)
				if err != nil || len(units) == 0 || units[0].Err != nil {
					b.Fatalf("convert: %v %v", err, units)
				}
				for i := range units {
					units[i].recycle()
				}
			}
		})
	}
}

// BenchmarkHL7ConvertLoad converts the messages `ferry bench mllp` sends
// (ADT^A01 and ORU^R01 in turn, CR-framed), in the gateway's default mode:
// the conversion part of the MLLP ingest figures in BENCHMARKS.md.
func BenchmarkHL7ConvertLoad(b *testing.B) {
	h := HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional}}
	now := time.Now()
	var ins [2]adapters.Raw
	for i, k := range []mllpbench.Kind{mllpbench.ADT, mllpbench.ORU} {
		ins[i] = adapters.Raw{Source: "bench", Format: "hl7v2", Name: "m", Body: mllpbench.Generate(k, "MSG0000"+strconv.Itoa(i), 7, now)}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		units, err := h.Convert(context.Background(), ins[n&1])
		n++
		if err != nil || len(units) == 0 || units[0].Err != nil {
			b.Fatalf("convert: %v %v", err, units)
		}
		for i := range units {
			units[i].recycle()
		}
	}
}
