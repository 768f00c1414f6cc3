package v2fhir

import (
	"strings"
	"testing"
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
