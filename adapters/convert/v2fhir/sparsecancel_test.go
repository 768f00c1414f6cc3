package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// sparseCancel is an ADT cancel of visit V77 whose PV1 carries only what
// HL7 v2.5.1 3.3.11 asks of it, the fields that identify the visit:
// PV1-2 and PV1-19.
func sparseCancel(trigger, control string) string {
	return adtWith(trigger, control, map[int]string{3: "", 4: "", 7: "", 10: "", 44: ""})
}

// TestSparseCancelPatchesVisit: a cancel (A11, A12, A13, A25, A26, A27,
// A38) may carry in its PV1 only the fields that identify the visit
// (HL7 v2.5.1 3.3.11: "the fields pertinent"). Its Encounter was
// written whole, under the id the A01 gave the visit: the PUT replaced
// the stored visit's period, location, type and attending doctor with
// nothing, and an exchange kept a cancelled visit of which it knew only
// the class. Such a cancel now PATCHes the visit's status alone (a
// ChangeBatch entry at the same request URL the A01's PUT used) and
// writes no Encounter; a cancel whose PV1 is full is still written
// whole.
func TestSparseCancelPatchesVisit(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		admit, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(adtWith("A01", "S01", nil), "\n", "\r")))
		if err != nil {
			t.Fatal(err)
		}
		var url string
		for _, e := range admit.Entry {
			if _, ok := e.Resource.(*fhir.Encounter); ok {
				url = e.Request.URL
			}
		}
		if url == "" {
			t.Fatalf("%s: the A01 writes no Encounter", mode)
		}
		for tr, want := range map[string]string{"A11": "cancelled", "A12": "in-progress", "A13": "in-progress", "A25": "in-progress", "A26": "in-progress", "A27": "cancelled", "A38": "cancelled"} {
			b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(sparseCancel(tr, "S"+tr), "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range b.Entry {
				if enc, ok := e.Resource.(*fhir.Encounter); ok && e.Request != nil && e.Request.Method == "PUT" {
					t.Errorf("%s: %s with a sparse PV1 replaces the visit: %s %s, period %+v, %d locations",
						mode, tr, e.Request.Method, e.Request.URL, enc.Period, len(enc.Location))
				}
			}
			if len(res.Changes) != 1 || res.Changes[0].URL != url || res.Changes[0].Status != want {
				t.Errorf("%s: %s changes %+v, want the status of %s made %s", mode, tr, res.Changes, url, want)
			}
		}
		// A cancel that sends the visit whole is written whole.
		b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(adtWith("A11", "F11", nil), "\n", "\r")))
		if err != nil {
			t.Fatal(err)
		}
		if encs := entriesOf[fhir.Encounter](b); len(encs) != 1 || encs[0].Status != "cancelled" || len(res.Changes) != 0 {
			t.Errorf("%s: an A11 with a full PV1: %d Encounters, %d changes; want it written cancelled", mode, len(encs), len(res.Changes))
		}
	}
}

// TestSparseCancelTransferPatchesLocation: an A12 (cancel transfer) must
// name where the patient stayed (HL7 v2.5.1 3.3.12: PV1-3 "must show the
// location of the patient prior to the original transfer") and may send
// little else: PV1-2, PV1-3, PV1-6 (the transfer's destination) and
// PV1-19. Written whole, it replaced the visit's period, type and
// doctors with nothing. It now PATCHes the status and the location list
// the whole write would give (PV1-3 active, the destination left out),
// and nothing else; so does an A26 (cancel pending transfer) with its
// pending location (PV1-42), which is no longer held.
func TestSparseCancelTransferPatchesLocation(t *testing.T) {
	for _, tc := range []struct {
		trigger string
		fields  map[int]string
	}{
		{"A12", map[int]string{3: "W1^101^A", 6: "W2^202^B"}},
		{"A26", map[int]string{3: "W1^101^A", 42: "W2^202^B"}},
	} {
		f := map[int]string{4: "", 7: "", 10: "", 44: ""}
		for k, v := range tc.fields {
			f[k] = v
		}
		b, res, err := testConverter(t).ConvertRaw([]byte(strings.ReplaceAll(adtWith(tc.trigger, "L"+tc.trigger, f), "\n", "\r")))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			if _, ok := e.Resource.(*fhir.Encounter); ok && e.Request != nil && e.Request.Method == "PUT" {
				t.Errorf("%s with PV1-3 and no more of the visit replaces it: %s", tc.trigger, e.Request.URL)
			}
		}
		if len(res.Changes) != 1 {
			t.Fatalf("%s: changes %+v, want the visit's", tc.trigger, res.Changes)
		}
		patch := string(res.Changes[0].patch())
		if !strings.Contains(patch, `{"op":"replace","path":"/status","value":"in-progress"}`) ||
			!strings.Contains(patch, `{"op":"add","path":"/location","value":[{"location":{"display":"W1 101 A"},"status":"active"}]}`) {
			t.Errorf("%s: patch %s, want the status and PV1-3's location alone", tc.trigger, patch)
		}
	}
}
