package v2fhir

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOUL pins the OUL^R22 golden case: the SPM heads the specimen
// group, its own OBX is a specimen Observation, and the OBR that follows
// becomes a DiagnosticReport on that specimen with its OBX as results.
func TestOUL(t *testing.T) {
	c := testConverter(t)
	b, res := convertFile(t, c, "v2-oul-r22")
	if res.MessageType != "OUL^R22" {
		t.Fatalf("type %q", res.MessageType)
	}
	rs := resources(t, b)
	if len(rs["Specimen"]) != 1 || len(rs["Observation"]) != 3 || len(rs["DiagnosticReport"]) != 1 {
		t.Fatalf("resources: %d specimen, %d observation, %d report", len(rs["Specimen"]), len(rs["Observation"]), len(rs["DiagnosticReport"]))
	}
	sp := rs["Specimen"][0]
	contains(t, "Specimen", sp, `"value":"SP-1-A"`, `"code":"BLD"`, `"code":"VENIP"`, `"collectedDateTime":"2024-05-02T08:30:00-05:00"`)
	id := sp[strings.Index(sp, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	for _, o := range rs["Observation"] {
		contains(t, "Observation", o, `"specimen":{"reference":"Specimen/`+id+`"}`)
	}
	contains(t, "specimen Observation", rs["Observation"][0], `"code":"20570-8"`, `"value":38.5`)
	contains(t, "result", rs["Observation"][1], `"code":"2345-7"`, `"note":[{"text":"Patient reports not fasting."}]`, `"issued":"2024-05-02T10:10:00-05:00"`)
	dr := rs["DiagnosticReport"][0]
	contains(t, "DiagnosticReport", dr, `"specimen":[{"reference":"Specimen/`+id+`"}]`, `"value":"F-7731"`, `"status":"final"`)
	if strings.Count(dr, `"reference":"Observation/`) != 2 {
		t.Errorf("report results: %s", dr)
	}
}

// TestAppointmentEvents: the trigger fixes the status of discontinued,
// deleted and missed appointments, whatever SCH-25 says.
func TestAppointmentEvents(t *testing.T) {
	c := testConverter(t)
	for name, want := range map[string]string{"v2-siu-s26": "noshow", "v2-siu-s17": "entered-in-error"} {
		b, _ := convertFile(t, c, name)
		rs := resources(t, b)
		contains(t, name, rs["Appointment"][0], `"status":"`+want+`"`, `"start":"2024-04-10T09:30:00-05:00"`)
	}
}

// TestADTEvents pins A60 (IAM → AllergyIntolerance), A47 (identifier
// change), A45 (visit moved) and OMG^O19 (ServiceRequest).
func TestADTEvents(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-adt-a60")
	rs := resources(t, b)
	if len(rs["AllergyIntolerance"]) != 2 {
		t.Fatalf("allergies: %d", len(rs["AllergyIntolerance"]))
	}
	contains(t, "IAM 1", rs["AllergyIntolerance"][0], `"code":"active"`, `"code":"confirmed"`, `"type":"allergy","category":["medication"]`,
		`"code":"7980"`, `"value":"ALG-301"`, `"onsetDateTime":"2019-06-10"`, `"note":[{"text":"Reaction within an hour of the first dose."}]`,
		`"code":"247472004"`, `"code":"39579001"`, `"severity":"severe"`)
	del := rs["AllergyIntolerance"][1]
	contains(t, "IAM 2 (deleted)", del, `"code":"entered-in-error"`, `"recordedDate":"2024-04-05"`)
	if strings.Contains(del, "clinicalStatus") {
		t.Errorf("entered-in-error allergy has a clinical status (ait-2): %s", del)
	}
	// The same allergen from an AL1 lands on the same resource.
	adt := "MSH|^~\\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401101500||ADT^A08^ADT_A01|ADT-5999|P|2.5.1\r" +
		"PID|1||MRN100234^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Ana^Lucia||19780214|F\r" +
		"AL1|1|DA|7980^Penicillin G^RXNORM|SV\r"
	b2, _, err := c.ConvertRaw([]byte(adt))
	if err != nil {
		t.Fatal(err)
	}
	id := func(js string) string {
		js = js[strings.Index(js, `"id":"`)+6:]
		return js[:strings.IndexByte(js, '"')]
	}
	if got, want := id(resources(t, b2)["AllergyIntolerance"][0]), id(rs["AllergyIntolerance"][0]); got != want {
		t.Errorf("AL1 allergy id %s, IAM allergy id %s: an A60 would not update what the ADT wrote", got, want)
	}

	b, _ = convertFile(t, c, "v2-adt-a47")
	rs = resources(t, b)
	if len(rs["Patient"]) != 2 {
		t.Fatalf("patients: %v", rs["Patient"])
	}
	contains(t, "A47 new", rs["Patient"][0], `"value":"55777"`, `"use":"old"`, `"value":"55501"`, `"type":"replaces"`)
	contains(t, "A47 old", rs["Patient"][1], `"active":false`, `"type":"replaced-by"`)

	b, _ = convertFile(t, c, "v2-adt-a45")
	rs = resources(t, b)
	pid := id(rs["Patient"][0])
	contains(t, "A45 Encounter", rs["Encounter"][0], `"value":"V2024031500042"`, `"subject":{"reference":"Patient/`+pid+`"}`)

	b, res := convertFile(t, c, "v2-omg-o19")
	rs = resources(t, b)
	if res.MessageType != "OMG^O19" || len(rs["ServiceRequest"]) != 2 {
		t.Fatalf("OMG: %s, %d service requests", res.MessageType, len(rs["ServiceRequest"]))
	}
	contains(t, "OMG ServiceRequest", rs["ServiceRequest"][0], `"value":"ORD-6001"`, `"status":"active","intent":"order","priority":"stat"`)
}

// TestZSegmentExtension: with the option on, each Z-segment's encoded text
// (escapes intact, control characters hex-escaped) rides on the
// MessageHeader as valid FHIR; off, the MessageHeader carries none.
func TestZSegmentExtension(t *testing.T) {
	msg := "MSH|^~\\&|EHR|SPRINGCLINIC|FERRY|HIE|20240401101500||ADT^A08^ADT_A01|ADT-5998|P|2.5.1\r" +
		"PID|1||MRN100234^^^HOSP^MR||Rivera^Ana||19780214|F\r" +
		"ZPI|1|VIP^\"quoted\" \\T\\ <b>|loyalty\x01tier\r" +
		"PV1|1|O|CLINIC1\r" +
		"ZBE|2||\r"
	c := testConverter(t)
	b, _, err := c.ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	mh := resources(t, b)["MessageHeader"][0]
	if strings.Contains(mh, "extension") {
		t.Errorf("extension written with the option off: %s", mh)
	}
	c.ZSegmentExtension = true
	b, _, err = c.ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	js := marshal(t, b)
	strictR4(t, js)
	var hdr *fhir.MessageHeader
	for _, e := range b.Entry {
		if h, ok := e.Resource.(*fhir.MessageHeader); ok {
			hdr = h
		}
	}
	if hdr == nil || len(hdr.Extension) != 2 {
		t.Fatalf("MessageHeader extensions: %+v", hdr)
	}
	want := []string{`ZPI|1|VIP^"quoted" \T\ <b>|loyalty\X01\tier`, `ZBE|2||`}
	for i, e := range hdr.Extension {
		if e.URL != ZSegmentURL || e.ValueString != want[i] {
			t.Errorf("extension %d = %s %q, want %q", i, e.URL, e.ValueString, want[i])
		}
	}
	if !bytes.Contains(js, []byte(`"extension": [`)) {
		t.Error("extension missing from the JSON")
	}
}

// TestDispense pins RDS^O13: RXD → MedicationDispense authorised by the
// ORC's order, with the RXR route and NTE/RXD-9 notes.
func TestDispense(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-rds-o13")
	rs := resources(t, b)
	if len(rs["MedicationDispense"]) != 1 || len(rs["MedicationRequest"]) != 0 {
		t.Fatalf("dispenses %d, requests %d", len(rs["MedicationDispense"]), len(rs["MedicationRequest"]))
	}
	contains(t, "MedicationDispense", rs["MedicationDispense"][0], `"status":"completed"`, `"code":"860975"`,
		`"value":"springclinic:placer/RX-3001.1"`, `"value":"RX778812"`, `"authorizingPrescription":[{"type":"MedicationRequest","identifier":{`,
		`"quantity":{"value":60,"unit":"tablet","system":"http://unitsofmeasure.org","code":"{tbl}"}`,
		`"whenHandedOver":"2024-04-05T11:20:00-05:00"`, `{"text":"Generic substituted."}`, `"code":"PO"`, `"performer":[{"actor":{"reference":"Practitioner/`)
}

// TestDeleteAndRefill pins A29 (the person is kept, marked inactive, no
// visit written) and RDE^O25 (a refill request is an active order).
func TestDeleteAndRefill(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-adt-a29")
	rs := resources(t, b)
	if len(rs["Patient"]) != 1 || len(rs["Encounter"]) != 0 {
		t.Fatalf("A29: %d patients, %d encounters", len(rs["Patient"]), len(rs["Encounter"]))
	}
	contains(t, "A29 Patient", rs["Patient"][0], `"value":"55888"`, `"active":false`)

	b, res := convertFile(t, c, "v2-rde-o25")
	rs = resources(t, b)
	if res.MessageType != "RDE^O25" || len(rs["MedicationRequest"]) != 1 {
		t.Fatalf("O25: %s, %d requests", res.MessageType, len(rs["MedicationRequest"]))
	}
	contains(t, "O25 MedicationRequest", rs["MedicationRequest"][0], `"status":"active","intent":"order"`, `"code":"860975"`)
}
