package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// An MLLP listener accepts production messages only unless its
// processing_ids says otherwise; values outside HL7 table 0103 are
// reported at their path.
func TestMLLPProcessingIDs(t *testing.T) {
	cfg, err := Parse("t", []byte(`
sources:
  mllp:
    - name: prod
      listen: 127.0.0.1:2575
    - name: test
      listen: 127.0.0.1:2576
      processing_ids: [T, d]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources.MLLP[0]; len(got.ProcessingIDs) != 1 || got.ProcessingIDs[0] != "P" || got.AcceptedProcessingIDs() != hl7v2.Production {
		t.Errorf("default: %q", got.ProcessingIDs)
	}
	if got := cfg.Sources.MLLP[1].AcceptedProcessingIDs(); got != hl7v2.Training|hl7v2.Debugging {
		t.Errorf("[T, d]: %v", got)
	}
	if (MLLP{}).AcceptedProcessingIDs() != hl7v2.Production {
		t.Error("a listener built in code without processing_ids does not default to P")
	}

	_, err = Parse("t", []byte(`
sources:
  mllp:
    - listen: 127.0.0.1:2575
      processing_ids: [P, training]
`))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	if p := ce.Problems[0]; p.Path != "sources.mllp[0].processing_ids[1]" || !strings.Contains(p.Msg, "table 0103") || !strings.Contains(p.Msg, `"training"`) {
		t.Errorf("problem %+v", p)
	}
}
