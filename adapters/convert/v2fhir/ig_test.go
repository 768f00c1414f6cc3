package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// mustConvert converts a message written with "\n" between segments.
func mustConvert(t *testing.T, c *Converter, msg string) *fhir.Bundle {
	t.Helper()
	b, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entriesOf returns the bundle's resources of type T.
func entriesOf[T any](b *fhir.Bundle) []*T {
	var out []*T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(*T); ok {
			out = append(out, r)
		}
	}
	return out
}

// patientOf returns the bundle's one Patient and its request URL.
func patientOf(t *testing.T, b *fhir.Bundle) (*fhir.Patient, string) {
	t.Helper()
	for _, e := range b.Entry {
		if p, ok := e.Resource.(*fhir.Patient); ok {
			return p, e.Request.URL
		}
	}
	t.Fatal("no Patient in the bundle")
	return nil, ""
}

const (
	siteADT = `MSH|^~\&|ADT|CLINICA|HIE|HIE|20240105101500-0500||ADT^A04^ADT_A01|A100|P|2.5.1
EVN|A04|20240105101500-0500
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
PV1|1|O`
	siteORU = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|M100|P|2.5.1
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H|||F`
)

// TestMintedSystemsPerSite: a named assigning authority without an OID
// ("MRN") gets a system unique to the site's base, so two clinics sending
// 123^^^MRN^MR do not merge at the exchange, while one site's ADT and lab
// feeds (different MSH-4) still agree on one patient.
func TestMintedSystemsPerSite(t *testing.T) {
	site := func(base string) *Converter {
		c := testConverter(t)
		c.Base, c.Mode = base, ModePatientConditional
		return c
	}
	a, b := site("urn:ferry:site:aaaa"), site("urn:ferry:site:bbbb")
	pa, urlA := patientOf(t, mustConvert(t, a, siteADT))
	pb, urlB := patientOf(t, mustConvert(t, b, siteADT))
	if pa.Identifier[0].System == pb.Identifier[0].System || urlA == urlB {
		t.Errorf("two sites share a minted system: %s / %s", urlA, urlB)
	}
	if got, want := pa.Identifier[0].System, "urn:ferry:site:aaaa:id:mrn"; got != want {
		t.Errorf("system %q, want %q", got, want)
	}
	if !strings.HasPrefix(urlA, "Patient?identifier=urn%3Aferry%3Asite%3Aaaaa%3Aid%3Amrn%7C123") {
		t.Errorf("conditional update %q", urlA)
	}
	// Same site, ADT from CLINICA and ORU from CLINICLAB: one Patient.
	lab, urlLab := patientOf(t, mustConvert(t, a, siteORU))
	if lab.Identifier[0].System != pa.Identifier[0].System || urlLab != urlA {
		t.Errorf("one site's ADT and ORU disagree: %s / %s", urlA, urlLab)
	}
}
