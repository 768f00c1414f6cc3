package v2fhir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// oulInput is the OUL^R22 golden case's message, a real file.
func oulInput(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "convert", "v2-oul-r22", "input.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestReportPeriodEndBeforeStart: a result whose observation end (OBR-8)
// is before its start (OBR-7) gave the DiagnosticReport an
// effectivePeriod breaking per-1, and the exchange refused the results
// after ferry's AA. OBR-7, the time the results are clinically relevant
// for (the collection), is kept as effectiveDateTime, as when OBR-8 is
// not sent; the end, which says nothing sure, is left out.
func TestReportPeriodEndBeforeStart(t *testing.T) {
	const obr = "LN|||20240502083000-0500|||||||||1234567890"
	msg := oulInput(t)
	if !strings.Contains(msg, obr) {
		t.Fatal("the golden OUL changed")
	}
	msg = strings.Replace(msg, obr, "LN|||20240502083000-0500|20240502073000-0500||||||||1234567890", 1)
	drs := entriesOf[fhir.DiagnosticReport](mustConvert(t, testConverter(t), msg))
	if len(drs) != 1 {
		t.Fatalf("%d reports", len(drs))
	}
	if !perOne(drs[0].EffectivePeriod) {
		t.Errorf("effectivePeriod %+v ends before it starts (per-1)", drs[0].EffectivePeriod)
	} else if drs[0].EffectiveDateTime != "2024-05-02T08:30:00-05:00" {
		t.Errorf("effective %q %+v, want OBR-7 2024-05-02T08:30:00-05:00", drs[0].EffectiveDateTime, drs[0].EffectivePeriod)
	}
}

// TestSpecimenCollectedEndBeforeStart: a specimen whose collection end
// (SPM-17.2) is before its start (SPM-17.1) gave the Specimen a
// collectedPeriod breaking per-1. The start is kept as collectedDateTime,
// as when no end is sent.
func TestSpecimenCollectedEndBeforeStart(t *testing.T) {
	const spm = "|20240502083000-0500|20240502090500-0500"
	msg := oulInput(t)
	if !strings.Contains(msg, spm) {
		t.Fatal("the golden OUL changed")
	}
	msg = strings.Replace(msg, spm, "|20240502083000-0500^20240502073000-0500|20240502090500-0500", 1)
	sps := entriesOf[fhir.Specimen](mustConvert(t, testConverter(t), msg))
	if len(sps) != 1 || sps[0].Collection == nil {
		t.Fatalf("specimens %+v", sps)
	}
	if c := sps[0].Collection; !perOne(c.CollectedPeriod) {
		t.Errorf("collectedPeriod %+v ends before it starts (per-1)", c.CollectedPeriod)
	} else if c.CollectedDateTime != "2024-05-02T08:30:00-05:00" {
		t.Errorf("collected %q %+v, want SPM-17.1 2024-05-02T08:30:00-05:00", c.CollectedDateTime, c.CollectedPeriod)
	}
}
