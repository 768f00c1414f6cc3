package fax

import (
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestSidecarNamesOnePatient: a sidecar that gives the patient's number
// under two names (MRN and PatientId, say the chart number and the fax
// service's own patient id), or twice (beside and inside a nested
// object), names the same patient every time it is read: the name
// sidecarNames prefers, the innermost key. Both were taken in Go's map
// order, which changes from run to run, so the same fax, retried after a
// failure or dropped again, was filed now to one patient, now to another.
// The e-mailed fax's "Key: value" lines go the same way (applyFields).
func TestSidecarNamesOnePatient(t *testing.T) {
	for _, tc := range []struct{ sidecar, mrn, received string }{
		{`{"PatientId":"PX-9","MRN":"4711"}`, "4711", ""},
		{`{"patient_id":"PX-9","MedicalRecordNumber":"4711","PatientMRN":"4712"}`, "4711", ""},
		{`{"MRN":"4711","patient":{"MRN":"4712"}}`, "4712", ""},
		{`{"CreatedAt":"2026-11-20T14:00:00Z","CompletedAt":"2026-11-20T14:03:07Z","MRN":"4711"}`, "4711", "2026-11-20T14:03:07Z"},
		{`<fax><PatientId>PX-9</PatientId><MRN>4711</MRN></fax>`, "4711", ""},
	} {
		for i := range 64 {
			var f faxfhir.Fax
			if err := parseSidecar(&f, []byte(tc.sidecar), time.UTC); err != nil {
				t.Fatal(err)
			}
			if f.MRN != tc.mrn {
				t.Errorf("%s, reading %d: MRN %q, want %q", tc.sidecar, i+1, f.MRN, tc.mrn)
				break
			}
			if tc.received != "" && f.Received.UTC().Format(time.RFC3339) != tc.received {
				t.Errorf("%s, reading %d: received %s, want %s", tc.sidecar, i+1, f.Received.UTC().Format(time.RFC3339), tc.received)
				break
			}
		}
	}
}
