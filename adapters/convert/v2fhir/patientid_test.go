package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientIDIsShared: the id this converter gives a Patient (in
// ModeID, PUT Patient/<id>, and the retired record an A40 rewrites) is
// fhir.PatientID of its identifier, the id the C-CDA and CSV converters
// use, and it is the id the converter wrote before fhir.PatientID
// existed (frozen below), so Patients stored in ids mode stay where they
// are.
func TestPatientIDIsShared(t *testing.T) {
	for _, k := range [][2]string{{"urn:oid:2.16.840.1.113883.19.5.99999.2", "MRN-RES1"}, {"", "x"},
		{"http://example.org/mrn", strings.Repeat("9", 300)}} {
		if got, want := ResourceID("Patient", k[0], k[1]), fhir.PatientID(k[0], k[1]); got != want {
			t.Errorf("%s|%s: v2fhir %s, fhir.PatientID %s", k[0], k[1], got, want)
		}
	}
	if got := fhir.PatientID("urn:oid:2.16.840.1.113883.19.5.99999.2", "MRN-RES1"); got != "1bddc994-41ad-5fed-abdd-389c19fd4c11" {
		t.Errorf("the id of a stored Patient changed: %s", got)
	}
	c := testConverter(t)
	c.Mode = ModeID
	b, _, err := c.ConvertRaw([]byte(retiredA40))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range b.Entry {
		if p, ok := e.Resource.(*fhir.Patient); ok {
			n++
			want := "Patient/" + fhir.PatientID(p.Identifier[0].System, p.Identifier[0].Value)
			if e.Request.URL != want || "Patient/"+p.ID != want {
				t.Errorf("Patient %s written as %s (id %s), want %s", p.Identifier[0].Value, e.Request.URL, p.ID, want)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d Patients in the A40, want the survivor and the retired record", n)
	}
}
