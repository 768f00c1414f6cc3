package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// TestSecondMRGOfAGroupIsMerged: an A40 that merges two prior records
// into one patient by writing one PID and an MRG for each (PID, MRG,
// MRG: a registrar's three duplicates folded at once, as some senders
// write it instead of repeating the PID) was acknowledged AA with the
// second MRG left unread: that record stayed active at the exchange, and
// its later results were filed to it, not to the survivor, though the
// sender was told the merge was done. Every MRG names a record merged
// into the PID before it, in the first patient group and in a later one.
func TestSecondMRGOfAGroupIsMerged(t *testing.T) {
	const msg = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M42|P|2.5\n" +
		"EVN|A40|20240321085900\n" +
		"PID|1||100^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|101^^^HOSP^MR\n" +
		"MRG|102^^^HOSP^MR\n" +
		"PID|2||200^^^HOSP^MR||Roe^Rick||19700101|M\n" +
		"MRG|201^^^HOSP^MR\n" +
		"MRG|202^^^HOSP^MR\n"
	for _, mode := range []Mode{ModeID, ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			reg := openRegistry(t)
			c.Merges = reg
			b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			sys := "urn:oid:2.16.840.1.113883.3.999.1"
			want := map[string]string{"101": "100", "102": "100", "201": "200", "202": "200"}
			got := map[string]string{}
			for _, m := range res.Merges {
				got[m.Retired.Value] = m.Survivor.Value
				if m.Retired.System != sys || m.Survivor.System != sys {
					t.Errorf("merge %v: systems", m)
				}
			}
			for r, s := range want {
				if got[r] != s {
					t.Errorf("%s merged into %q, want %s (merges %v)", r, got[r], s, res.Merges)
				}
			}
			byURL := map[string]string{}
			pats := map[string]*fhir.Patient{}
			for _, e := range b.Entry {
				if p, ok := e.Resource.(*fhir.Patient); ok {
					byURL[e.FullURL] = p.Identifier[0].Value
					pats[p.Identifier[0].Value] = p
				}
			}
			target := func(l fhir.PatientLink) string {
				ref := l.Other.Reference
				if mode == ModeID {
					ref = "urn:uuid:" + strings.TrimPrefix(ref, "Patient/")
				}
				return byURL[ref]
			}
			for r, s := range want {
				p := pats[r]
				if p == nil {
					t.Errorf("no Patient written for %s", r)
					continue
				}
				if p.Active == nil || *p.Active || len(p.Link) != 1 || p.Link[0].Type != "replaced-by" || target(p.Link[0]) != s {
					t.Errorf("%s: active %v, links %+v, want inactive, replaced-by %s", r, p.Active, p.Link, s)
				}
				replaces := false
				for _, l := range pats[s].Link {
					replaces = replaces || l.Type == "replaces" && target(l) == r
				}
				if !replaces {
					t.Errorf("%s does not link to %s with replaces: %+v", s, r, pats[s].Link)
				}
			}
			for _, m := range res.Merges {
				if err := reg.Record(m); err != nil {
					t.Fatal(err)
				}
			}
			if s, ok, _ := reg.Survivor(merges.ID{System: sys, Value: "102"}); !ok || s.Value != "100" {
				t.Errorf("102 after the merge: %v %v, want 100", s, ok)
			}
		})
	}
}
