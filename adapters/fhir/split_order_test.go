package fhir_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

var literalRef = regexp.MustCompile(`"reference":"([A-Za-z]+/[^"/]+)"`)

// checkWrittenBefore fails when a part refers by Type/id to a resource
// of the whole bundle that neither it nor an earlier part writes.
func checkWrittenBefore(t *testing.T, what string, whole *fhir.Bundle, parts []*fhir.Bundle) {
	t.Helper()
	inBundle := map[string]bool{}
	for _, e := range whole.Entry {
		if e.Request != nil && e.Request.Method == "PUT" && !strings.Contains(e.Request.URL, "?") {
			inBundle[e.Request.URL] = true
		}
	}
	written := map[string]bool{}
	for i, p := range parts {
		for _, e := range p.Entry {
			if e.Request != nil && e.Request.Method == "PUT" {
				written[e.Request.URL] = true
			}
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literalRef.FindAllSubmatch(js, -1) {
			if ref := string(m[1]); inBundle[ref] && !written[ref] {
				t.Errorf("%s: part %d of %d refers to %s, which a later part writes (an exchange checking references refuses the part)", what, i+1, len(parts), ref)
			}
		}
	}
}

// TestSplitPartsReferToWhatIsWritten: a message cut into transactions
// (hl7v2.writes ids and patient-conditional) has each part refer only to
// resources it or an earlier part writes. An ADT's Encounter names its
// diagnoses (Encounter.diagnosis.condition), written after it, and each
// Condition names the Encounter: cut in entry order, the Encounter went
// in a part before its Conditions, which an exchange that checks
// references on write (HAPI FHIR by default, Medplum with
// checkReferencesOnWrite) refuses as naming a Condition it does not hold,
// so the visit never arrived.
func TestSplitPartsReferToWhatIsWritten(t *testing.T) {
	for _, name := range []string{"v2-adt-a03-segments", "v2-ref-i12", "v2-adt-a01-restricted"} {
		raw, err := os.ReadFile(filepath.Join("../../testdata/convert", name, "input.hl7"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional} {
			c := &v2fhir.Converter{Mode: mode, MaxEntries: 5}
			whole, _, err := c.Convert(m, raw)
			if err != nil {
				t.Fatal(err)
			}
			parts, err := c.Parts(whole)
			if err != nil {
				t.Fatalf("%s %s: %v", name, mode, err)
			}
			if len(parts) < 2 {
				t.Fatalf("%s %s: %d part, want it cut", name, mode, len(parts))
			}
			checkWrittenBefore(t, name+" "+mode.String(), whole, parts)
			n := 0
			for _, p := range parts {
				for _, e := range p.Entry {
					if !fhir.Conditional(e) {
						n++
					}
				}
			}
			want := 0
			for _, e := range whole.Entry {
				if !fhir.Conditional(e) {
					want++
				}
			}
			if n != want {
				t.Errorf("%s %s: parts write %d entries, the message %d", name, mode, n, want)
			}
		}
	}
}
