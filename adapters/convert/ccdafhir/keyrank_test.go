package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientKeyNotADocumentNumber: the HL7 v2 converter keys a patient
// by the MR of PID-3 and never by a driver's licence (DL) or a Medicare
// number (MC) listed before it, which change with the card and would
// make a new Patient each time. A C-CDA has no identifier types, but the
// licence and Medicare numbers come under their own OIDs (THO: US
// driver's licences 2.16.840.1.113883.4.3.<state>, the system the HL7 v2
// converter gives a DL; CMS's MBI 2.16.840.1.113883.4.927 and HICN
// 2.16.840.1.113883.4.572). The first recordTarget id keyed the patient
// whatever it was: a CCD listing the licence before the chart number was
// a second Patient at the exchange beside the one the ADT feed writes,
// the patient's data split between them. Such numbers now key the
// patient only when it has no other id, as an SSN does.
func TestPatientKeyNotADocumentNumber(t *testing.T) {
	const a04 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240101120000||ADT^A04^ADT_A01|S1|P|2.5\r" +
		"EVN|A04|20240101120000\r" +
		"PID|1||D1234567^^^CA^DL~MRN-7^^^&1.2.3.9&ISO^MR||B^A||19800101|F\r"
	vb, _, err := (&v2fhir.Converter{Mode: v2fhir.ModeID}).ConvertRaw([]byte(a04))
	if err != nil {
		t.Fatal(err)
	}
	vreq := onlyPatientWrite(t, vb)
	if want := "PUT Patient/" + fhir.PatientID("urn:oid:1.2.3.9", "MRN-7"); vreq != want {
		t.Fatalf("ADT writes %s, want %s", vreq, want)
	}
	for _, first := range []string{
		`<id root="2.16.840.1.113883.4.3.6" extension="D1234567"/>`,
		`<id root="2.16.840.1.113883.4.927" extension="1EG4TE5MK73"/>`,
		`<id root="2.16.840.1.113883.4.572" extension="123456789A"/>`,
	} {
		doc := nullIDDoc("d1", first+`<id root="1.2.3.9" extension="MRN-7"/>`, "A", "19800101")
		cb, res, err := ConvertBytes([]byte(doc), Options{Mode: ModePutID, NoBinary: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := fhir.PatientKey("urn:oid:1.2.3.9", "MRN-7"); res.PatientKey != want {
			t.Errorf("%s first: patient keyed %q, want the MRN's %q", first, res.PatientKey, want)
			continue
		}
		if creq := onlyPatientWrite(t, cb); creq != vreq {
			t.Errorf("%s first: C-CDA writes %s, ADT %s", first, creq, vreq)
		}
	}
	// A patient with nothing else is keyed by the number all the same.
	_, res, err := ConvertBytes([]byte(nullIDDoc("d2", `<id root="2.16.840.1.113883.4.3.6" extension="D1234567"/>`, "A", "19800101")), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := fhir.PatientKey("urn:oid:2.16.840.1.113883.4.3.6", "D1234567"); res.PatientKey != want {
		t.Errorf("licence alone: patient keyed %q, want %q", res.PatientKey, want)
	}
}

// onlyPatientWrite is the request that writes the bundle's one Patient.
func onlyPatientWrite(t *testing.T, b *fhir.Bundle) string {
	t.Helper()
	var reqs []string
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.Patient); ok && e.Request != nil {
			reqs = append(reqs, e.Request.Method+" "+e.Request.URL)
		}
	}
	if len(reqs) != 1 {
		t.Fatalf("Patient writes %v, want one", reqs)
	}
	return reqs[0]
}
