package v2fhir

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestEveryIdentifierChangeOfAnA47IsConverted: the corpus's ADT-A47-02
// holds two identifier changes, PID and MRG twice (MR102 to MR101, then
// 569 to 145, another patient). ADT_A30 has one PID and one MRG, but
// senders do batch them so, as an A40 repeats its patient groups: the
// second change was left unread and the message acknowledged AA, so the
// exchange kept 569 as a current record, without its link to 145, and
// merges.log never filed 569's later inputs to 145 (ARCHITECTURE
// invariant 2: nothing lost). Each pair is now a change of its own, as
// is an MRG after its PID's first (PID, MRG, MRG), and a later PID
// without its MRG is refused, naming it, not written as an update.
func TestEveryIdentifierChangeOfAnA47IsConverted(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/ADT-A47-02.hl7")
	if err != nil {
		t.Skip("corpus not present:", err)
	}
	const synth = "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A47^ADT_A30|A47-2|P|2.5.1\r" +
		"EVN|A47|20240105101500\r" +
		"PID|1||100^^^HOSP^MR||Roe^Rick||19700101|M\r" +
		"MRG|99^^^HOSP^MR\r" +
		"MRG|98^^^HOSP^MR\r" +
		"PID|2||200^^^HOSP^MR||Doe^Jane||19800101|F\r" +
		"MRG|199^^^HOSP^MR\r"
	for _, tc := range []struct {
		name string
		raw  []byte
		want map[string]string // retired -> survivor
	}{
		{"corpus", raw, map[string]string{"MR102": "MR101", "569": "145"}},
		{"pid-mrg-mrg", []byte(synth), map[string]string{"99": "100", "98": "100", "199": "200"}},
	} {
		for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				c := testConverter(t)
				c.Mode = mode
				b, res, err := c.ConvertRaw(tc.raw)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, m := range res.Merges {
					got[m.Retired.Value] = m.Survivor.Value
				}
				pats := map[string]*fhir.Patient{}
				for _, e := range b.Entry {
					if p, ok := e.Resource.(*fhir.Patient); ok {
						pats[p.Identifier[0].Value] = p
					}
				}
				for r, s := range tc.want {
					if got[r] != s {
						t.Errorf("%s changed to %q, want %s (merges %v)", r, got[r], s, res.Merges)
					}
					p := pats[r]
					if p == nil {
						t.Errorf("no Patient written for the prior identifier %s", r)
						continue
					}
					if p.Active == nil || *p.Active || len(p.Link) != 1 || p.Link[0].Type != "replaced-by" {
						t.Errorf("%s: active %v, links %+v, want inactive, replaced-by %s", r, p.Active, p.Link, s)
					}
					sp := pats[s]
					if sp == nil {
						t.Errorf("no Patient written for %s", s)
						continue
					}
					replaces := 0
					for _, l := range sp.Link {
						if l.Type == "replaces" {
							replaces++
						}
					}
					if replaces == 0 || sp.Active != nil && !*sp.Active {
						t.Errorf("%s: active %v, links %+v, want current, replacing %s", s, sp.Active, sp.Link, r)
					}
				}
			})
		}
	}

	const noMRG = "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A47^ADT_A30|A47-3|P|2.5.1\r" +
		"EVN|A47|20240105101500\r" +
		"PID|1||100^^^HOSP^MR||Roe^Rick||19700101|M\r" +
		"MRG|99^^^HOSP^MR\r" +
		"PID|2||200^^^HOSP^MR||Doe^Jane||19800101|F\r"
	_, _, err = testConverter(t).ConvertRaw([]byte(noMRG))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Segment != "MRG" || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a second PID without its MRG: %v, want the MRG refused as missing", err)
	}
}
