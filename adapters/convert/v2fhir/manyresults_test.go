package v2fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// manyResults is an ORU^R01 of n results: each of every other result
// repeats the one before it (one OBX-3 and set id, so one business key:
// the key#2, key#3 ... ids), and every result names one responsible
// observer (OBX-16), the Practitioner written once.
func manyResults(n int) []byte {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LAB|FAC|FERRY|CLINIC|20240315143000-0500||ORU^R01^ORU_R01|L1|P|2.5.1\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"OBR|1|ORD-1|F-1|58410-2^CBC^LN|||20240315091500-0500||||||||||||||20240315142500-0500||HM|F\r")
	for i := range n {
		code := i
		if i%2 == 1 {
			code = 7 // half the results share one key
		}
		fmt.Fprintf(&b, "OBX|%d|NM|%d-1^Result %d^L||%d|mg/dL|||||F|||20240315142500-0500||1234^Lab^Lee\r", code, code, code, i)
	}
	return []byte(b.String())
}

// TestManyResultsIndexedAsInTurn: a conversion of more than indexFrom
// entries finds the entries already added in an index, and starts a
// reused key's key#n search after the last n it took; the bundle is the
// one finding them in turn writes, whatever the mode: the same ids, the
// same entries, the Practitioner once.
func TestManyResultsIndexedAsInTurn(t *testing.T) {
	raw := manyResults(300)
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		convert := func(from int) ([]byte, *fhir.Bundle) {
			t.Helper()
			saved := indexFrom
			indexFrom = from
			defer func() { indexFrom = saved }()
			msg, err := hl7v2.ParseShared(raw)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := (&Converter{Mode: mode}).Convert(msg, raw)
			if err != nil {
				t.Fatal(err)
			}
			j, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			return j, b
		}
		inTurn, _ := convert(1 << 30)
		indexed, b := convert(32)
		if string(indexed) != string(inTurn) {
			t.Errorf("mode %v: the indexed conversion differs from the one in turn", mode)
		}
		if obs := entriesOf[fhir.Observation](b); len(obs) != 300 {
			t.Errorf("mode %v: %d observations, want 300", mode, len(obs))
		}
		if prs := entriesOf[fhir.Practitioner](b); len(prs) != 1 {
			t.Errorf("mode %v: %d practitioners, want 1", mode, len(prs))
		}
		seen := map[string]bool{}
		for _, e := range b.Entry {
			if seen[e.FullURL] {
				t.Errorf("mode %v: fullUrl %s twice", mode, e.FullURL)
			}
			seen[e.FullURL] = true
		}
	}
}

// BenchmarkManyResults converts reports of n results, half of them under
// one key: the time a result should not grow with n.
func BenchmarkManyResults(b *testing.B) {
	for _, n := range []int{250, 1000, 4000} {
		raw := manyResults(n)
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			c := &Converter{}
			for b.Loop() {
				msg, err := hl7v2.ParseShared(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Convert(msg, raw); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/result")
		})
	}
}
