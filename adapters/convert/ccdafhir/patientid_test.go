package ccdafhir

import (
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// The ADT feed's messages about the patient of testdata ccda-result
// (recordTarget id root 2.16.840.1.113883.19.5.99999.2, MRN-RES1): its
// assigning authority carries the same OID as ISO, so both inputs key
// the patient by urn:oid:2.16.840.1.113883.19.5.99999.2|MRN-RES1.
const (
	sharedA04 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240101120000||ADT^A04^ADT_A01|S1|P|2.5\r" +
		"EVN|A04|20240101120000\r" +
		"PID|1||MRN-RES1^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR||Jones^Isabella||19750501|F\r"
	sharedA40 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|S40|P|2.5\r" +
		"EVN|A40|20240321085900\r" +
		"PID|1||MRN-SURV1^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR||Jones^Isabella||19750501|F\r" +
		"MRG|MRN-RES1^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR\r"
)

// patientWrite is the request that writes the bundle's Patient (the one
// with identifier system|value) and the reference other entries use.
func patientWrite(t *testing.T, b *fhir.Bundle, system, value string) (string, string) {
	t.Helper()
	for _, e := range b.Entry {
		p, ok := e.Resource.(*fhir.Patient)
		if !ok || len(p.Identifier) == 0 || p.Identifier[0].System != system || p.Identifier[0].Value != value {
			continue
		}
		if e.Request == nil {
			t.Fatalf("Patient %s|%s has no request", system, value)
		}
		return e.Request.Method + " " + e.Request.URL, "Patient/" + p.ID
	}
	t.Fatalf("no Patient %s|%s in the bundle", system, value)
	return "", ""
}

// TestPatientIDSharedWithHL7v2: with hl7v2.writes ids (C-CDA in
// ModePutID, HL7 v2 in ModeID) one chart number that arrives by the ADT
// feed and by a C-CDA export is written as one Patient, by the same
// literal id (fhir.PatientID): two ids would give the exchange two
// Patients carrying one MRN, the patient's data split between them and
// any later conditional write by the MRN refused (412, multiple matches).
func TestPatientIDSharedWithHL7v2(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	cb, _, err := ConvertBytes(raw, Options{Mode: ModePutID})
	if err != nil {
		t.Fatal(err)
	}
	v2 := &v2fhir.Converter{Mode: v2fhir.ModeID}
	vb, _, err := v2.ConvertRaw([]byte(sharedA04))
	if err != nil {
		t.Fatal(err)
	}
	creq, cref := patientWrite(t, cb, mrnSystem, "MRN-RES1")
	vreq, vref := patientWrite(t, vb, mrnSystem, "MRN-RES1")
	if creq != vreq || cref != vref {
		t.Errorf("one MRN, two Patients: C-CDA %s (%s), ADT %s (%s)", creq, cref, vreq, vref)
	}
	if want := "PUT Patient/" + fhir.PatientID(mrnSystem, "MRN-RES1"); vreq != want {
		t.Errorf("ADT writes %s, want %s", vreq, want)
	}
	for _, e := range cb.Entry {
		if o, ok := e.Resource.(*fhir.Observation); ok && (o.Subject == nil || o.Subject.Reference != vref) {
			t.Errorf("Observation %s filed to %v, want %s", o.ID, o.Subject, vref)
		}
	}
	// The A40 that retires MRN-RES1 rewrites, inactive, the very Patient
	// the C-CDA wrote.
	mb, _, err := v2.ConvertRaw([]byte(sharedA40))
	if err != nil {
		t.Fatal(err)
	}
	if mreq, _ := patientWrite(t, mb, mrnSystem, "MRN-RES1"); mreq != creq {
		t.Errorf("the A40 retires %s, the C-CDA wrote %s", mreq, creq)
	}
}

// TestExchangePatientIDSharedWithHL7v2 posts, in ids mode, an ADT^A04
// and a C-CDA about one MRN to the stand-in exchange (Medplum), in both
// orders, then the A40 that merges the MRN into another: the exchange
// holds one Patient with the MRN all along, every C-CDA entry filed to
// it, and after the merge it is that Patient that is inactive and
// replaced-by the survivor (two Patients, not three).
func TestExchangePatientIDSharedWithHL7v2(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	ex := standin.Start(t)
	v2 := &v2fhir.Converter{Mode: v2fhir.ModeID}
	sendADT := func(msg string) {
		t.Helper()
		b, _, err := v2.ConvertRaw([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		parts, err := v2.Parts(b)
		if err != nil {
			t.Fatal(err)
		}
		ex.Post(t, parts...)
	}
	sendCCDA := func() {
		t.Helper()
		b, _, err := ConvertBytes(raw, Options{Mode: ModePutID})
		if err != nil {
			t.Fatal(err)
		}
		parts, err := Parts(b, ModePutID, 50)
		if err != nil {
			t.Fatal(err)
		}
		ex.Post(t, parts...)
	}
	byMRN := func(mrn string) []map[string]any {
		t.Helper()
		res := ex.Do(t, "GET", ex.URL+"/Patient?identifier="+url.QueryEscape(mrnSystem+"|"+mrn), nil)
		var out []map[string]any
		entries, _ := res["entry"].([]any)
		for _, e := range entries {
			out = append(out, e.(map[string]any)["resource"].(map[string]any))
		}
		return out
	}
	for _, ccdaFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("ccda-first=%v", ccdaFirst), func(t *testing.T) {
			ex.Reset(t)
			if ccdaFirst {
				sendCCDA()
				sendADT(sharedA04)
			} else {
				sendADT(sharedA04)
				sendCCDA()
			}
			pts := byMRN("MRN-RES1")
			if len(pts) != 1 {
				t.Fatalf("%d Patients carry MRN-RES1, want 1", len(pts))
			}
			id := fmt.Sprint(pts[0]["id"])
			obs := ex.Do(t, "GET", ex.URL+"/Observation?subject="+url.QueryEscape("Patient/"+id), nil)
			if n, _ := obs["entry"].([]any); len(n) == 0 || len(n) != ex.Count(t, "Observation") {
				t.Errorf("%d of %d Observations filed to the patient", len(n), ex.Count(t, "Observation"))
			}
			sendADT(sharedA40)
			if n := ex.Count(t, "Patient"); n != 2 {
				t.Errorf("%d Patients after the merge, want the retired record and the survivor", n)
			}
			pts = byMRN("MRN-RES1")
			if len(pts) != 1 || pts[0]["active"] != false || fmt.Sprint(pts[0]["id"]) != id {
				t.Errorf("after the merge MRN-RES1 is %v, want the one Patient %s, inactive", pts, id)
			}
		})
	}
}
