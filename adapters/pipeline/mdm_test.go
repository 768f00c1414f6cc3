package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
)

// TestHL7DocumentChangeUnit: an MDM replacement (T10) or cancel (T11) is
// queued as its transaction and then, last and under the same patient
// and dedup keys, the batch that PATCHes the earlier document's
// DocumentReference, in every write mode. A replacement's batch is marked
// queue.AttrMissingOK (the parent may never have reached the exchange:
// nothing to supersede); a cancel's is not (a withdrawal the exchange
// cannot apply is dead-lettered for a person to see). An original
// document (T02) gets no such batch.
func TestHL7DocumentChangeUnit(t *testing.T) {
	msg := func(trigger, structure, txa12, txa13, txa19, obx string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||MDM^" + trigger + "^" + structure + "|DOC-" + trigger + "|P|2.5.1\r" +
			"EVN|" + trigger + "|20261125083000\r" +
			"PID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
			"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "|" + txa13 + "||||AU||" + txa19 + "\r" + obx
	}
	obx := "OBX|1|TX|11506-3^Progress note^LN||Text.||||||F\r"
	for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional, v2fhir.ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			h := HL7{Conv: &v2fhir.Converter{Mode: mode}}
			units, err := h.Convert(context.Background(), adapters.Raw{Body: []byte(msg("T02", "MDM_T02", "D-1^EHR", "", "AV", obx))})
			if err != nil || len(units) != 1 || units[0].Attrs[queue.AttrMissingOK] != "" {
				t.Fatalf("original: %d units, %v", len(units), err)
			}
			for _, tc := range []struct {
				name, msg, want string
				missingOK       bool
			}{
				{"T10", msg("T10", "MDM_T02", "D-2^EHR", "D-1^EHR", "AV", obx), "superseded", true},
				{"T11", msg("T11", "MDM_T01", "D-1^EHR", "", "CA", ""), "entered-in-error", false},
			} {
				units, err := h.Convert(context.Background(), adapters.Raw{Body: []byte(tc.msg)})
				if err != nil || len(units) < 2 {
					t.Fatalf("%s: %d units, %v", tc.name, len(units), err)
				}
				tx, last := units[0], units[len(units)-1]
				if last.Err != nil || (last.Attrs[queue.AttrMissingOK] == "true") != tc.missingOK || tx.Attrs[queue.AttrMissingOK] != "" {
					t.Errorf("%s: missing target allowed %v, want %v only on the batch: %v, %v (%v)", tc.name, last.Attrs[queue.AttrMissingOK] == "true", tc.missingOK, last.Attrs, tx.Attrs, last.Err)
				}
				if !strings.HasSuffix(last.Name, " document status change") || last.Key != tx.Key || last.Key == "" || last.Dedup != tx.Dedup {
					t.Errorf("%s: batch unit %q key %q; transaction key %q", tc.name, last.Name, last.Key, tx.Key)
				}
				var b struct {
					Type  string
					Entry []struct {
						Resource struct{ Data []byte }
						Request  fhir.BundleRequest
					}
				}
				if err := json.Unmarshal(last.Bundle, &b); err != nil {
					t.Fatal(err)
				}
				if b.Type != "batch" || len(b.Entry) != 1 || b.Entry[0].Request.Method != "PATCH" ||
					!strings.HasPrefix(b.Entry[0].Request.URL, "DocumentReference") || !strings.Contains(string(b.Entry[0].Resource.Data), `"value":"`+tc.want+`"`) {
					t.Errorf("%s: batch %s", tc.name, last.Bundle)
				}
			}
		})
	}
}
