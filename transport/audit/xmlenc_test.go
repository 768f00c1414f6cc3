package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// hostileStrings are values the XML encoder must escape exactly as
// encoding/xml does: markup, references, whitespace it writes as
// references, control characters, invalid UTF-8 (lone bytes, truncated
// and overlong sequences, encoded surrogates), the non-characters
// U+FFFE/U+FFFF, U+FFFD itself, and runes at the edges of the XML Char
// ranges.
var hostileStrings = []string{
	"",
	"plain",
	`<&>"'`,
	"</AuditMessage><x>",
	"&amp;&#34;&lt;",
	"a\tb\nc\r\nd",
	"\x00\x01\x08\x0b\x0c\x0e\x1f\x7f",
	"\x80", "\xff", "a\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\uFFFE", "\uFFFF", "\uFFFD", "\xef\xbf\xbd\xef\xbf\xbe",
	"\u007f\u0080\u00a0\ud7ff\ue000\U00010000\U0010FFFF",
	"é漢字🙂 ^~\\|&",
	"MRN^^^&2.16.840.1.113883.3.999.1&ISO",
	"x\x00",
	strings.Repeat(`DOE^JANE <&>"' é`+"\x01\xff\t", 4000),
	strings.Repeat("a", 70000),
}

var xmlTimes = []time.Time{
	time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC),
	time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -5*3600)),
	time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // not zero: written as it is
	time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Unix(0, 0),
}

// constructorEvents builds an event with every constructor of the package
// (and the Sink's loss report), once with the optional inputs empty and
// once with them set, each string input s.
func constructorEvents(s string, t time.Time) map[string]Event {
	op := Operator{UserID: s, AltUserID: s, UserName: s, Address: s}
	evs := map[string]Event{
		"export empty": ExportEvent(Export{}),
		"export": ExportEvent(Export{Gateway: s, GatewayAddr: s, ExchangeURL: s, ExchangeAddr: s, Patient: s, IDType: IDPatientKey,
			ControlID: s, BundleID: s, Outcome: OutcomeMinorFailure, OutcomeDesc: s, Time: t}),
		"export mhd": ExportEvent(Export{Gateway: s, GatewayAddr: "10.0.0.1", ExchangeURL: s, ExchangeAddr: "hie.example", MHD: true,
			PatientID: PatientID{System: s, Value: s}, ControlID: s, SubmissionSet: s, BundleID: s, Time: t}),
		"export v2": ExportEvent(Export{Gateway: s, ExchangeURL: s, V2MessageType: s, PatientID: PatientID{System: "urn:oid:" + s, Value: s},
			BundleID: s, Outcome: OutcomeMajorFailure, Time: t}),
		"import empty": ImportEvent(Import{}),
		"import": ImportEvent(Import{Sender: s, SenderAddr: s, Gateway: s, GatewayAddr: s, Format: "hl7v2", MessageType: s, ControlID: s,
			Input: s, PatientIDs: []PatientID{{System: s, Value: s}, {Value: s}, {System: "urn:oid:1.2", Value: s}},
			Operator: &op, Outcome: OutcomeSeriousFail, OutcomeDesc: s, Time: t}),
		"import patient": ImportEvent(Import{Sender: s, Gateway: s, Format: s, ControlID: s, Patient: s, IDType: IDPatientKey, Time: t}),
		"import control": ImportEvent(Import{Sender: s, Gateway: s, Format: "fax", ControlID: s, Input: s, Time: t}),
		"operator empty": OperatorEvent(OperatorAction{}),
		"login empty":    LoginFailure(Operator{}, "", "", "", time.Time{}),
		"login":          LoginFailure(op, s, s, s, t),
		"app start":      ApplicationActivity(true, s, s, s, &op, t),
		"app stop":       ApplicationActivity(false, s, s, s, nil, t),
		"app empty":      ApplicationActivity(false, "", "", "", nil, time.Time{}),
		"node auth":      NodeAuthFailure(s, s, s, s, s, s, t),
		"remote auth":    RemoteAuthFailure(s, s, s, s, s, t),
		"loss report": {ID: EventSecurityAlert, Type: TypeAuditRecordingStopped, Action: ActionExecute, Outcome: OutcomeSeriousFail,
			OutcomeDesc: s, Time: t, AuditSourceID: s, AuditSite: s,
			Participants: []Participant{{UserID: s, Requestor: true, Address: s, Role: RoleApplication}}},
	}
	for i, k := range []OpKind{OpHeldRelease, OpHeldDiscard, OpDeadLetterRead, OpDeadLetterRetry, OpDeadLetterPurge,
		OpQuarantineRead, OpQuarantineReplay, OpQuarantinePurge, OpMergeUndo, OpMergeRead, OpBackup} {
		evs["operator "+k.Type.Code] = OperatorEvent(OperatorAction{Kind: k, Operator: op, Gateway: s, GatewayAddr: s,
			ExchangeURL: s, ExchangeAddr: s, Patient: s, ControlID: s, Object: s, ObjectType: IDHeldBundle, QueueID: s, Label: s,
			Outcome: Outcome(i), OutcomeDesc: s, Time: t})
		evs["operator min "+k.Type.Code] = OperatorEvent(OperatorAction{Kind: k, Operator: Operator{UserID: s}, Gateway: s, Object: s, Time: t})
	}
	return evs
}

// stringFields returns every string of e the XML carries, Codes
// included, so that a test can set each one alone.
func stringFields(e *Event) []*string {
	f := []*string{(*string)(&e.Action), &e.OutcomeDesc, &e.AuditSourceID, &e.AuditSite}
	code := func(c *Code) { f = append(f, &c.Code, &c.System, &c.DisplayName, &c.Text) }
	code(&e.ID)
	code(&e.Type)
	for i := range e.Participants {
		p := &e.Participants[i]
		f = append(f, &p.UserID, &p.AltUserID, &p.UserName, &p.Address)
		code(&p.Role)
		code(&p.Media)
	}
	for i := range e.Objects {
		o := &e.Objects[i]
		f = append(f, &o.ID)
		code(&o.IDType)
		for j := range o.Details {
			f = append(f, &o.Details[j].Type, &o.Details[j].Value)
		}
	}
	return f
}

// fullEvent has every field set, several participants, objects and
// details, with codes that carry a displayName.
func fullEvent(t time.Time) Event {
	return Event{
		ID: Code{Code: "110106", System: "DCM", DisplayName: "Export", Text: "Export"}, Type: TypeITI65, Action: ActionUpdate,
		Outcome: OutcomeMajorFailure, OutcomeDesc: "refused", Time: t, AuditSourceID: "gw", AuditSite: "clinic",
		Participants: []Participant{
			{UserID: "a", AltUserID: "1", UserName: "n", Requestor: true, Address: "10.1.2.3", Role: RoleSource},
			{UserID: "b", Address: "fe80::1", Role: RoleDestination},
			{UserID: "c", Address: "fe80::1%eth0", Role: Code{Code: "x", System: "y", DisplayName: "z"}},
			{UserID: "d"},
			{UserID: "file:/srv/fax in", Role: RoleSourceMedia, Media: Code{Code: "110037", System: "DCM", DisplayName: "u<r>i", Text: "URI"}},
		},
		Objects: []Object{
			{ID: "p", IDType: IDPatientNumber, TypeCode: 1, Role: 1, Details: []Detail{{"MSH-10", "C1"}, {"b", ""}, {"", "\xff\x00"}}},
			{ID: "q", TypeCode: -3, Role: 1 << 40},
			{ID: "", IDType: IDBundle, Role: 24},
		},
	}
}

// equalXML encodes ev both ways and reports a difference.
func equalXML(t *testing.T, name string, ev Event) {
	t.Helper()
	got, err := ev.XML()
	want, werr := referenceXML(&ev)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s: error %v, reference error %v", name, err, werr)
	}
	sameBytes(t, name, "XML", "encoding/xml's", got, want)
}

// sameBytes fails the test when an encoder's bytes (got) are not the
// reference's (want), showing where they part.
func sameBytes(t *testing.T, name, form, ref string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: %s differs from %s at byte %d:\n got  %q\n want %q", name, form, ref, i, clip(got, i), clip(want, i))
}

// compareEncoders gives equal (an encoder against its reference) every
// constructor's events with optional fields empty and set, and full's
// event whole, with each of its fields hostile in turn, and with all of
// them hostile at once, at each of xmlTimes; it returns how many events.
func compareEncoders(t *testing.T, hostile []string, full func(time.Time) Event, fields func(*Event) []*string, equal func(*testing.T, string, Event)) int {
	t.Helper()
	n := 0
	short := hostile[:len(hostile)-2] // the long ones once: they take most of the time
	for k, tm := range xmlTimes {
		strs := short
		if k == 0 {
			strs = hostile
		}
		for _, s := range strs {
			for name, ev := range constructorEvents(s, tm) {
				if ev.Time.IsZero() {
					ev.Time = tm // now would differ between the two
				}
				ev.AuditSourceID = "gw"
				equal(t, name, ev)
				ev.AuditSourceID, ev.AuditSite = s+"x", s
				equal(t, name+" source", ev)
				n += 2
			}
		}
		whole := full(tm)
		equal(t, "full", whole)
		n++
		for i := range fields(&whole) {
			for _, s := range strs {
				ev := full(tm)
				*fields(&ev)[i] = s
				equal(t, "full field", ev)
				n++
			}
		}
		// Every field hostile at once.
		for _, s := range strs {
			ev := full(tm)
			for _, f := range fields(&ev) {
				*f = s
			}
			ev.AuditSourceID += "x"
			equal(t, "full all", ev)
			n++
		}
	}
	return n
}

func clip(b []byte, i int) []byte {
	lo, hi := max(i-60, 0), min(i+60, len(b))
	return b[lo:hi]
}

// TestXMLMatchesEncodingXML: the hand-written encoder writes the bytes
// encoding/xml.Marshal wrote, for every constructor, with optional fields
// empty and set, and for hostile values in every field.
func TestXMLMatchesEncodingXML(t *testing.T) {
	n := compareEncoders(t, hostileStrings, fullEvent, stringFields, equalXML)
	// Errors match too.
	equalXML(t, "no source", Event{Participants: []Participant{{UserID: "x"}}})
	equalXML(t, "no participant", Event{AuditSourceID: "x"})
	t.Logf("%d events compared", n)

	// An event without a time is written at the time of encoding.
	ev := ApplicationActivity(true, "gw", "", "", nil, time.Time{})
	ev.AuditSourceID = "gw"
	before := time.Now().Truncate(time.Millisecond)
	b, err := ev.XML()
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	a := parseXMLTime(t, b)
	if a.Before(before) || a.After(after) {
		t.Errorf("EventDateTime %v not between %v and %v", a, before, after)
	}
}

func parseXMLTime(t *testing.T, b []byte) time.Time {
	t.Helper()
	_, rest, ok := bytes.Cut(b, []byte(`EventDateTime="`))
	v, _, ok2 := bytes.Cut(rest, []byte(`"`))
	tm, err := time.Parse("2006-01-02T15:04:05.000Z", string(v))
	if !ok || !ok2 || err != nil {
		t.Fatalf("EventDateTime: %q %v", v, err)
	}
	return tm
}

// FuzzXMLMatchesEncodingXML compares the encoder with encoding/xml on
// arbitrary values: go test ./transport/audit -run '^$' -fuzz FuzzXMLMatchesEncodingXML
func FuzzXMLMatchesEncodingXML(f *testing.F) {
	for _, s := range hostileStrings[:len(hostileStrings)-2] {
		f.Add(s, "gw", s, "10.0.0.1", s, 2, 20, uint8(7), int64(1767225600123456789))
	}
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
				Address: []string{d, e, "", "127.0.0.1"}[i], Role: Code{Code: e, System: d, DisplayName: b},
				Media: Code{Code: []string{"", d}[i%2], System: a, Text: e}})
		}
		for i := range int(shape >> 3 & 3) {
			o := Object{ID: e, IDType: Code{Code: d, System: c, Text: a}, TypeCode: typeCode * i, Role: role}
			for j := range int(shape>>5) + i {
				o.Details = append(o.Details, Detail{Type: []string{a, b, c}[j%3], Value: []string{d, e}[j%2]})
			}
			ev.Objects = append(ev.Objects, o)
		}
		equalXML(t, "fuzz", ev)
	})
}

// BenchmarkEventXML compares the encoder with encoding/xml (the sender's
// cost per MLLP message with the audit trail on): an Import event of an
// HL7 v2 message with one patient.
func BenchmarkEventXML(b *testing.B) {
	ev := ImportEvent(Import{Sender: "LAB^FACILITY", SenderAddr: "10.20.30.40", Gateway: "ferry-clinic-1", GatewayAddr: "gw.clinic.local",
		Format: "hl7v2", MessageType: "ORU^R01", ControlID: "MSG000123",
		Input:      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		PatientIDs: []PatientID{{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: "MRN777123"}}, Time: time.Now()})
	ev.AuditSourceID = "ferry-clinic-1"
	for _, c := range []struct {
		name string
		enc  func(*Event) ([]byte, error)
	}{{"append", (*Event).XML}, {"encoding-xml", referenceXML}} {
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
