package audit

import (
	"encoding/json"
	"testing"
	"time"
)

// jsonHostileStrings are hostileStrings (the long ones last) and the
// values encoding/json treats specially that XML does not: the backslash,
// \b and \f (escaped by name), the HTML characters, U+2028/U+2029, and
// runes that strings.ToLower turns into ASCII letters (the Kelvin sign,
// the dotted capital I), which fhirSystem keeps in a urn:ferry: system.
var jsonHostileStrings = append(append([]string{
	`\ \\ \u0041 \"`,
	"\b\f\v\x1b",
	"<script>&amp;</script>",
	"\u2028\u2029 \u2027\u202a",
	"a\xe2\x80\xa8b\xe2\x80",
	"\u212a\u0130 ABC Ü ẞ",
	"HL7 v2 message type (MSH-9)",
	"IHE Transactions", "DCM", "RFC-3881",
	"urn:oid:1.2.3",
	"0123456789-.",
}, hostileStrings[:len(hostileStrings)-2]...), hostileStrings[len(hostileStrings)-2:]...)

// fhirStringFields is stringFields and the strings only the FHIR form
// carries: an object's identifier system and value.
func fhirStringFields(e *Event) []*string {
	f := stringFields(e)
	for i := range e.Objects {
		f = append(f, &e.Objects[i].System, &e.Objects[i].Value)
	}
	return f
}

// fullFHIREvent is fullEvent with the objects the FHIR form writes
// differently: a patient named by its identifier (with and without a
// system) and BALP's XrequestId entity.
func fullFHIREvent(t time.Time) Event {
	ev := fullEvent(t)
	ev.Objects = append(ev.Objects,
		Object{ID: "cx", IDType: IDPatientNumber, TypeCode: 1, Role: 1, System: "urn:oid:1.2", Value: "v", Details: []Detail{{"k", "v"}}},
		Object{ID: "cx2", Value: "v2"},
		Object{ID: "b", IDType: IDXRequestID, TypeCode: 4},
		Object{ID: "b2", IDType: Code{System: IDXRequestID.System}, TypeCode: 4, Role: 3, System: "s", Value: "w"},
	)
	return ev
}

// equalFHIR encodes ev both ways and reports a difference.
func equalFHIR(t *testing.T, name string, ev Event) {
	t.Helper()
	got, err := ev.FHIR()
	want, werr := referenceFHIR(&ev)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%s: error %v, reference error %v", name, err, werr)
	}
	sameBytes(t, name, "FHIR", "encoding/json's", got, want)
}

// TestFHIRMatchesEncodingJSON: the hand-written encoder writes the bytes
// encoding/json.Marshal wrote, for every constructor, with optional
// fields empty and set, and for hostile values in every field.
func TestFHIRMatchesEncodingJSON(t *testing.T) {
	n := compareEncoders(t, jsonHostileStrings, fullFHIREvent, fhirStringFields, equalFHIR)
	// Negative and large outcomes, type codes and roles are written as
	// fmt.Sprint writes them.
	for _, v := range []int{-1, 1 << 40, -1 << 63} {
		ev := fullFHIREvent(xmlTimes[0])
		ev.Outcome = Outcome(v)
		for i := range ev.Objects {
			ev.Objects[i].TypeCode, ev.Objects[i].Role = v, v+1
		}
		equalFHIR(t, "numbers", ev)
		n++
	}
	// Errors match too.
	equalFHIR(t, "no source", Event{Participants: []Participant{{UserID: "x"}}})
	equalFHIR(t, "no participant", Event{AuditSourceID: "x"})
	t.Logf("%d events compared", n)

	// An event without a time is written at the time of encoding, and
	// what is written is JSON that decodeFHIR reads back.
	ev := ApplicationActivity(true, "gw", "", "", nil, time.Time{})
	ev.AuditSourceID = "gw"
	before := time.Now().Truncate(time.Millisecond)
	b, err := ev.FHIR()
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	var ae fhirAuditEvent
	if err := json.Unmarshal(b, &ae); err != nil {
		t.Fatal(err)
	}
	a, err := time.Parse(time.RFC3339, ae.Recorded)
	if err != nil || a.Before(before) || a.After(after) {
		t.Errorf("recorded %q (%v) not between %v and %v", ae.Recorded, err, before, after)
	}
}

// FuzzFHIRMatchesEncodingJSON compares the encoder with encoding/json on
// arbitrary values: go test ./transport/audit -run '^$' -fuzz FuzzFHIRMatchesEncodingJSON
func FuzzFHIRMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonHostileStrings[:len(jsonHostileStrings)-2] {
		f.Add(s, "gw", s, "10.0.0.1", s, 2, 20, uint8(7), int64(1767225600123456789))
	}
	f.Add("a", IDXRequestID.System, "HL7 v2", "", "urn:x", -1, 0, uint8(0xff), int64(-1))
	f.Fuzz(func(t *testing.T, a, b, c, d, e string, typeCode, role int, shape uint8, unix int64) {
		ev := Event{
			ID: Code{Code: a, System: b, DisplayName: c, Text: d}, Action: Action(e), Outcome: Outcome(typeCode - role),
			OutcomeDesc: c, Time: time.Unix(0, unix), AuditSourceID: b + "x", AuditSite: d,
		}
		if ev.Time.IsZero() {
			ev.Time = time.Unix(1, 0)
		}
		if shape&1 != 0 {
			ev.Type = Code{Code: e + "t", System: a, Text: c}
		}
		for i := range int(shape>>1&3) + 1 {
			ev.Participants = append(ev.Participants, Participant{UserID: a, AltUserID: b, UserName: c, Requestor: i%2 == 0,
				Address: []string{d, e, "", "127.0.0.1"}[i], Role: Code{Code: []string{e, ""}[i%2], System: d, DisplayName: b},
				Media: Code{Code: []string{"", d}[i%2], System: a, Text: e}})
		}
		for i := range int(shape >> 3 & 3) {
			// Objects i = 1, 3 are named by an identifier; object 2 has
			// the id type system of the test's b (IDXRequestID's when the
			// fuzzer finds it, as the seed gives it).
			o := Object{ID: e, IDType: Code{Code: []string{d, "", d}[i%3], System: []string{c, c, b}[i%3], Text: a}, TypeCode: typeCode * i, Role: role}
			if i%2 == 1 {
				o.System, o.Value = []string{"", b}[i/2], c+"v"
			}
			for j := range int(shape>>5) + i {
				o.Details = append(o.Details, Detail{Type: []string{a, b, c}[j%3], Value: []string{d, e}[j%2]})
			}
			ev.Objects = append(ev.Objects, o)
		}
		equalFHIR(t, "fuzz", ev)
	})
}

// BenchmarkEventFHIR compares the encoder with encoding/json (the
// sender's cost per MLLP message with audit.url a FHIR base): an Import
// event of an HL7 v2 message with one patient.
func BenchmarkEventFHIR(b *testing.B) {
	ev := ImportEvent(Import{Sender: "LAB^FACILITY", SenderAddr: "10.20.30.40", Gateway: "ferry-clinic-1", GatewayAddr: "gw.clinic.local",
		Format: "hl7v2", MessageType: "ORU^R01", ControlID: "MSG000123",
		Input:      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		PatientIDs: []PatientID{{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: "MRN777123"}}, Time: time.Now()})
	ev.AuditSourceID = "ferry-clinic-1"
	for _, c := range []struct {
		name string
		enc  func(*Event) ([]byte, error)
	}{{"append", (*Event).FHIR}, {"encoding-json", referenceFHIR}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.enc(&ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
