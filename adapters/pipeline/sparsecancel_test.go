package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// TestSparseCancelKeepsVisit: an A01 with the whole visit, then an A11
// (cancel admit) whose PV1 carries only the class and the visit number,
// as HL7 v2.5.1 3.3.11 allows, delivered to a FHIR server in every write
// mode. The stored Encounter is cancelled and keeps the admission's
// period, bed and doctor, which the cancel's whole write used to erase.
// The status change is queued last, named a visit status change, and is
// not marked queue.AttrMissingOK: a cancel of a visit the exchange does
// not hold (its A01 never arrived) answers 404 and is dead-lettered, as a
// document's withdrawal (MDM T11) is.
func TestSparseCancelKeepsVisit(t *testing.T) {
	// msg is an ADT of visit with the PV1 fields given by number.
	msg := func(trigger, control, visit string, fields map[int]string) string {
		pv1 := make([]string, 45)
		pv1[0], pv1[1], pv1[2], pv1[19] = "PV1", "1", "I", visit+"^^^HOSP^VN"
		for n, v := range fields {
			pv1[n] = v
		}
		return "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240105120000||ADT^" + trigger + "^ADT_A01|" + control + "|P|2.5.1\r" +
			"EVN|" + trigger + "|20240105120000\r" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\r" + strings.Join(pv1, "|") + "\r"
	}
	full := msg("A01", "ADM-1", "V77", map[int]string{3: "W1^101^A", 4: "E", 7: "1234^Smith^John^^^^^^HOSP", 10: "MED", 44: "20240101110000"})
	for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional, v2fhir.ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			recv := fhirrecv.New()
			srv := httptest.NewServer(recv)
			defer srv.Close()
			h := HL7{Conv: &v2fhir.Converter{Mode: mode}}
			// send posts the message's units in order and returns the
			// last unit and the batch response's first entry status.
			send := func(m string) (Unit, string) {
				units, err := h.Convert(context.Background(), adapters.Raw{Body: []byte(m)})
				if err != nil || len(units) == 0 {
					t.Fatalf("%d units, %v", len(units), err)
				}
				var status string
				for _, u := range units {
					if u.Err != nil {
						t.Fatalf("%s: %v", u.Name, u.Err)
					}
					resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
					if err != nil {
						t.Fatal(err)
					}
					var out struct {
						Entry []struct{ Response struct{ Status string } }
					}
					err = json.NewDecoder(resp.Body).Decode(&out)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: status %d, %v", u.Name, resp.StatusCode, err)
					}
					if len(out.Entry) > 0 {
						status = out.Entry[0].Response.Status
					}
				}
				return units[len(units)-1], status
			}
			send(full)
			// A cancelled transfer names where the patient stays, and the
			// destination it cancels (HL7 v2.5.1 3.3.12).
			send(msg("A12", "CXF-1", "V77", map[int]string{3: "W1^101^A", 6: "W2^202^B"}))
			if encs := recv.Resources("Encounter"); len(encs) != 1 || !strings.Contains(string(encs[0]), `"location":[{"location":{"display":"W1 101 A"},"status":"active"}]`) ||
				!strings.Contains(string(encs[0]), `"participant"`) || !strings.Contains(string(encs[0]), `"start"`) {
				t.Errorf("stored visit after the A12: %s", encs)
			}
			last, _ := send(msg("A11", "CAN-1", "V77", nil))
			if !strings.HasSuffix(last.Name, " visit status change") || last.Attrs[queue.AttrMissingOK] != "" {
				t.Errorf("last unit %q, missing target allowed %q; want a visit status change dead-lettered on 404", last.Name, last.Attrs[queue.AttrMissingOK])
			}
			encs := recv.Resources("Encounter")
			if len(encs) != 1 {
				t.Fatalf("the exchange holds %d Encounters, want the one visit", len(encs))
			}
			var e struct {
				Status string
				Period *struct{ Start string }
				Location,
				Participant []json.RawMessage
			}
			if err := json.Unmarshal(encs[0], &e); err != nil {
				t.Fatal(err)
			}
			if e.Status != "cancelled" || e.Period == nil || e.Period.Start == "" || len(e.Location) == 0 || len(e.Participant) == 0 {
				t.Errorf("stored visit after the cancel: %s", encs[0])
			}
			// A cancel of a visit never admitted through ferry.
			if mode != v2fhir.ModeConditional {
				if _, status := send(msg("A11", "CAN-2", "V88", nil)); !strings.HasPrefix(status, "404") {
					t.Errorf("cancel of an unknown visit answered %q, want 404", status)
				}
			}
		})
	}
}
