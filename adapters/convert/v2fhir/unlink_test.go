package v2fhir

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestUnlinkRefusedNamesMergeUndo: ADT^A37 (unlink patient information)
// takes back an A24 link between two records that stay apart; it is not
// the undo of an A40 merge, and ferry converts neither A24 nor A37. It is
// refused (AR, unsupported trigger event, quarantined) with a reason that
// tells whoever reads the AR or the quarantine what to do when the merge
// itself was sent in error: `ferry merges undo` at the gateway.
func TestUnlinkRefusedNamesMergeUndo(t *testing.T) {
	c := testConverter(t)
	_, res, err := c.ConvertRaw([]byte("MSH|^~\\&|EHR|CLINIC|||20240101||ADT^A37^ADT_A37|U1|P|2.5.1\rEVN|A37|20240101\r" +
		"PID|1||MRN-1^^^HOSP^MR||Doe^Jo\rPID|2||MRN-2^^^HOSP^MR||Roe^Jo\r"))
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ADT^A37: %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"A24", "does not undo a merge", "ferry merges undo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ADT^A37 reason lacks %q: %v", want, err)
		}
	}
	for _, phi := range []string{"MRN-1", "MRN-2", "Doe"} {
		if strings.Contains(err.Error(), phi) {
			t.Errorf("reason quotes %q: %v", phi, err)
		}
	}
	if res.MessageType != "ADT^A37" || res.ControlID != "U1" {
		t.Errorf("result %+v", res)
	}
	if slices.Contains(Supported(), "ADT^A37") {
		t.Error("Supported lists ADT^A37")
	}
}
