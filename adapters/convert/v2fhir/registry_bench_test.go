package v2fhir

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/replaced"
)

// BenchmarkORURegistries is BenchmarkORU with the gateway's registries
// given to the converter (Merges holding 100 merges, Replaced empty),
// neither of which names the message's patient: the cost of the lookups
// on the MLLP hot path (the same allocations as BenchmarkORU).
func BenchmarkORURegistries(b *testing.B) {
	raw, err := os.ReadFile("../../../testdata/convert/v2-oru-r01-cbc/input.hl7")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	mr, err := merges.Open(filepath.Join(dir, "merges.log"), merges.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer mr.Close()
	rr, err := replaced.Open(filepath.Join(dir, "replaced.log"), replaced.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rr.Close()
	for i := range 100 {
		s := strconv.Itoa(i)
		if err := mr.Record(merges.Merge{Retired: merges.ID{System: "urn:x", Value: "R" + s}, Survivor: merges.ID{System: "urn:x", Value: "S" + s}}); err != nil {
			b.Fatal(err)
		}
	}
	c := testConverter(b)
	c.Merges, c.Replaced = mr, rr.Replaced
	b.ReportAllocs()
	for b.Loop() {
		msg, err := hl7v2.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Convert(msg, raw); err != nil {
			b.Fatal(err)
		}
	}
}
