package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// TestFHIRJSONIfNoneExist: a dropped resource without an id is created
// once, by its first identifier; the search is query-escaped, and FHIR
// search's own separators inside the value are escaped, so a value with a
// '&', ',' or '|' cannot name another record.
func TestFHIRJSONIfNoneExist(t *testing.T) {
	body := []byte(`{"resourceType":"Patient","identifier":[{"value":"no system"},{"system":"urn:oid:1.2.3","value":"A&B,C|D"}]}`)
	units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "p.json", Body: body})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("convert: %v %v", err, units)
	}
	var b struct {
		Entry []struct {
			Request struct{ Method, URL, IfNoneExist string }
		}
	}
	if err := json.Unmarshal(units[0].Bundle, &b); err != nil || len(b.Entry) != 1 {
		t.Fatalf("bundle %s: %v", units[0].Bundle, err)
	}
	r := b.Entry[0].Request
	if r.Method != "POST" || r.URL != "Patient" {
		t.Errorf("request %+v", r)
	}
	q, err := url.ParseQuery(r.IfNoneExist)
	if err != nil || len(q) != 1 || q.Get("identifier") != `urn:oid:1.2.3|A&B\,C\|D` {
		t.Errorf("ifNoneExist %q decodes to %v (%v)", r.IfNoneExist, q, err)
	}
}

// fhirEntryOf decodes a pass-through unit's one-entry transaction.
func fhirEntryOf(t *testing.T, u Unit) (resource json.RawMessage, method, url, ifNoneExist string) {
	t.Helper()
	if u.Err != nil {
		t.Fatalf("%s: %v", u.Name, u.Err)
	}
	var b struct {
		Type  string
		Entry []struct {
			Resource json.RawMessage
			Request  struct{ Method, URL, IfNoneExist string }
		}
	}
	if err := json.Unmarshal(u.Bundle, &b); err != nil || b.Type != "transaction" || len(b.Entry) != 1 {
		t.Fatalf("%s: bundle %s: %v", u.Name, u.Bundle, err)
	}
	r := b.Entry[0].Request
	return b.Entry[0].Resource, r.Method, r.URL, r.IfNoneExist
}

func convertFHIR(t *testing.T, c FHIRJSON, format, body string) []Unit {
	t.Helper()
	units, err := c.Convert(context.Background(), adapters.Raw{Format: format, Name: "export", Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	return units
}

// TestFHIRJSONPatientKeyNDJSON: in a bulk export the Patient line has an
// id and the other lines refer to "Patient/<id>"; they must share one
// queue key, or parallel workers may deliver an Observation before the
// Patient it refers to, or a correction before what it corrects.
func TestFHIRJSONPatientKeyNDJSON(t *testing.T) {
	ndjson := `{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}]}
{"resourceType":"Observation","status":"final","code":{"text":"hb"},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"k"},"subject":{"reference":"https://ehr.example/fhir/Patient/p1/_history/3","display":"x"}}
{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p2"}}
{"resourceType":"Organization","name":"Lab"}
`
	units := convertFHIR(t, FHIRJSON{}, "fhir-ndjson", ndjson)
	if len(units) != 5 {
		t.Fatalf("%d units", len(units))
	}
	for _, u := range units {
		if u.Err != nil {
			t.Fatalf("%s: %v", u.Name, u.Err)
		}
	}
	k := units[0].Key
	if k == "" || units[1].Key != k || units[2].Key != k {
		t.Errorf("Patient and its Observations keyed %q %q %q, want one key", k, units[1].Key, units[2].Key)
	}
	if units[3].Key == "" || units[3].Key == k {
		t.Errorf("another patient's Observation keyed %q (first patient %q)", units[3].Key, k)
	}
	if units[4].Key != DirectoryKey || len(units[4].After) != 0 {
		t.Errorf("Organization keyed %q after %q, want %q (the directory resources' own order)", units[4].Key, units[4].After, DirectoryKey)
	}
	for _, u := range units[:4] {
		if !slices.Equal(u.After, []string{queue.Behind(DirectoryKey)}) {
			t.Errorf("%s after %q, want behind the directory resources", u.Name, u.After)
		}
	}
	if strings.Contains(k, "p1") {
		t.Errorf("key %q holds the id in clear", k)
	}
}

// TestFHIRJSONPatientKeyRules: the other ways a FHIR resource names its
// patient. Named by identifier, it gets the key the HL7 v2, C-CDA and fax
// paths give that MRN; a transaction is keyed by its Patient entry.
func TestFHIRJSONPatientKeyRules(t *testing.T) {
	mrn := fhir.PatientKey("urn:oid:1.2.3", "M,1")
	byRef := func(id string) string { return fhir.PatientKey(patientRefSystem, "Patient/"+id) }
	for _, tc := range []struct {
		name, body, want string
	}{
		{"patient without id", `{"resourceType":"Patient","identifier":[{"value":"x"},{"system":"urn:oid:1.2.3","value":"M,1"}]}`, mrn},
		{"patient with id", `{"resourceType":"Patient","id":"7","identifier":[{"system":"urn:oid:1.2.3","value":"M,1"}]}`, byRef("7")},
		{"conditional reference", `{"resourceType":"Observation","subject":{"reference":"Patient?identifier=urn%3Aoid%3A1.2.3%7CM%5C%2C1"}}`, mrn},
		{"logical reference", `{"resourceType":"Condition","subject":{"type":"Patient","identifier":{"system":"urn:oid:1.2.3","value":"M,1"}}}`, mrn},
		{"literal wins over identifier", `{"resourceType":"Condition","subject":{"reference":"Patient/7","identifier":{"system":"urn:oid:1.2.3","value":"M,1"}}}`, byRef("7")},
		{"patient element", `{"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/7"}}`, byRef("7")},
		{"coverage beneficiary", `{"resourceType":"Coverage","id":"c","type":{"text":"x"},"beneficiary":{"reference":"Patient/7"}}`, byRef("7")},
		{"list of subjects", `{"resourceType":"Account","id":"a","type":{"text":"x"},"subject":[{"reference":"Device/d"},{"reference":"Patient/7"}]}`, byRef("7")},
		{"group subject", `{"resourceType":"Observation","id":"o","subject":{"reference":"Group/g","identifier":{"system":"s","value":"v"}}}`, ""},
		{"directory resource", `{"resourceType":"Practitioner","id":"d"}`, DirectoryKey},
		{"no patient", `{"resourceType":"Device","id":"d"}`, ""},
		// A Provenance has no patient element: its targets name the
		// patient, and it must queue behind what it is the provenance
		// of (a bulk export's Provenance.ndjson, Synthea's).
		{"provenance target", `{"resourceType":"Provenance","id":"p","target":[{"reference":"Encounter/e"},{"reference":"Patient/7"}]}`, byRef("7")},
		{"provenance without a patient target", `{"resourceType":"Provenance","id":"p","target":[{"reference":"Practitioner/d"}]}`, ""},
		{"target of another type is no patient", `{"resourceType":"Observation","id":"o","target":[{"reference":"Patient/7"}]}`, ""},
		{"transaction, conditional patient", `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:2"}},"request":{"method":"POST","url":"Observation"}},
			{"fullUrl":"urn:uuid:2","resource":{"resourceType":"Patient","id":"ignored"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn%3Aoid%3A1.2.3%7CM%5C%2C1"}}]}`, mrn},
		{"transaction, conditional update", `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=urn%3Aoid%3A1.2.3%7CM%5C%2C1"}}]}`, mrn},
		{"batch without patient entry", `{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":{"resourceType":"Practitioner","id":"d"},"request":{"method":"PUT","url":"Practitioner/d"}},
			{"resource":{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/7"}},"request":{"method":"PUT","url":"Observation/o"}},
			{"resource":{"resourceType":"Observation","id":"o2","subject":{"reference":"Patient/8"}},"request":{"method":"PUT","url":"Observation/o2"}}]}`, byRef("7")},
	} {
		units := convertFHIR(t, FHIRJSON{}, "fhir-json", tc.body)
		if units[0].Err != nil {
			t.Errorf("%s: %v", tc.name, units[0].Err)
		} else if units[0].Key != tc.want {
			t.Errorf("%s: key %q, want %q", tc.name, units[0].Key, tc.want)
		}
	}
}

// TestFHIRJSONMintedIdentifier: a resource with neither id nor identifier
// would be a plain POST, created again by each redelivery. It gets an
// identifier from its content and goes as a conditional create on it;
// the same line gives the same bundle every time, the same content
// reformatted the same identifier, and the resource's own bytes (a
// decimal's trailing zero, its HTML) are kept.
func TestFHIRJSONMintedIdentifier(t *testing.T) {
	line := `{"resourceType":"Observation","status":"final","code":{"text":"<b>K</b>"},"valueQuantity":{"value":1.50,"unit":"mmol/L"},"subject":{"reference":"Patient/p1"}}`
	c := FHIRJSON{Base: "urn:ferry:site:0b8e"}
	u := convertFHIR(t, c, "fhir-ndjson", line+"\n"+line+"\n")
	if string(u[0].Bundle) != string(u[1].Bundle) {
		t.Fatalf("one line, two bundles:\n%s\n%s", u[0].Bundle, u[1].Bundle)
	}
	res, method, url_, ifNoneExist := fhirEntryOf(t, u[0])
	if method != "POST" || url_ != "Observation" {
		t.Errorf("request %s %s", method, url_)
	}
	var r struct {
		Identifier []struct{ System, Value string }
	}
	if err := json.Unmarshal(res, &r); err != nil || len(r.Identifier) != 1 {
		t.Fatalf("resource %s: %v", res, err)
	}
	id := r.Identifier[0]
	if id.System != "urn:ferry:site:0b8e:content-sha256" || len(id.Value) != 64 {
		t.Errorf("minted identifier %+v", id)
	}
	if want := fhir.IdentifierQuery(id.System, id.Value); ifNoneExist != want {
		t.Errorf("ifNoneExist %q, want %q", ifNoneExist, want)
	}
	if want := line[:len(line)-1] + `,"identifier":[{"system":"` + id.System + `","value":"` + id.Value + `"}]}`; string(res) != want {
		t.Errorf("resource changed beyond the identifier:\n got %s\nwant %s", res, want)
	}

	pretty := "{\n  \"resourceType\": \"Observation\",\n  \"status\": \"final\",\n  \"code\": {\"text\": \"<b>K</b>\"},\n  \"valueQuantity\": {\"value\": 1.50, \"unit\": \"mmol/L\"},\n  \"subject\": {\"reference\": \"Patient/p1\"}\n}\n"
	res2, _, _, ifNoneExist2 := fhirEntryOf(t, convertFHIR(t, c, "fhir-json", pretty)[0])
	if ifNoneExist2 != ifNoneExist {
		t.Errorf("reformatted resource: ifNoneExist %q, want %q", ifNoneExist2, ifNoneExist)
	}
	if !strings.Contains(string(res2), `"value": 1.50`) || !strings.Contains(string(res2), "<b>K</b>") {
		t.Errorf("resource not kept as received: %s", res2)
	}

	// Identifiers that ifNoneExist cannot use stay; the minted one is added.
	res3, _, _, ifNoneExist3 := fhirEntryOf(t, convertFHIR(t, c, "fhir-json",
		`{"resourceType":"Condition","identifier": [ {"value":"local-7"} ] ,"note":[{"text":"a"}]}`)[0])
	if !strings.Contains(string(res3), `"identifier": [ {"value":"local-7"} ,{"system":"urn:ferry:site:0b8e:content-sha256","value":"`) ||
		!strings.Contains(ifNoneExist3, "content-sha256") {
		t.Errorf("identifier not appended: %s (ifNoneExist %q)", res3, ifNoneExist3)
	}

	// A Composition's identifier is one Identifier, not a list.
	res4, _, _, _ := fhirEntryOf(t, convertFHIR(t, c, "fhir-json", `{"resourceType":"Composition","status":"final"}`)[0])
	if !strings.Contains(string(res4), `"identifier":{"system":"urn:ferry:site:0b8e:content-sha256"`) {
		t.Errorf("Composition identifier: %s", res4)
	}
	_, _, _, ifNoneExist5 := fhirEntryOf(t, convertFHIR(t, c, "fhir-json", `{"resourceType":"Composition","identifier":{"system":"urn:oid:1.2","value":"d1"}}`)[0])
	if ifNoneExist5 != fhir.IdentifierQuery("urn:oid:1.2", "d1") {
		t.Errorf("Composition's own identifier not used: %q", ifNoneExist5)
	}
}

// TestFHIRJSONNoIdentifierTypePUT: a Binary has no identifier element, so
// it is made idempotent by a client-assigned id derived from its content
// (a UUID, a valid FHIR id).
func TestFHIRJSONNoIdentifierTypePUT(t *testing.T) {
	body := `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`
	u1 := convertFHIR(t, FHIRJSON{}, "fhir-json", body)[0]
	u2 := convertFHIR(t, FHIRJSON{}, "fhir-json", body)[0]
	if string(u1.Bundle) != string(u2.Bundle) {
		t.Fatalf("two bundles:\n%s\n%s", u1.Bundle, u2.Bundle)
	}
	res, method, url_, ifNoneExist := fhirEntryOf(t, u1)
	var r struct{ ID string }
	json.Unmarshal(res, &r)
	if method != "PUT" || url_ != "Binary/"+r.ID || ifNoneExist != "" || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.ID) {
		t.Errorf("request %s %s ifNoneExist %q, resource %s", method, url_, ifNoneExist, res)
	}
	if strings.Contains(string(res), "identifier") {
		t.Errorf("identifier added to a Binary: %s", res)
	}
	other := convertFHIR(t, FHIRJSON{}, "fhir-json", `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG9v"}`)[0]
	if _, _, url2, _ := fhirEntryOf(t, other); url2 == url_ {
		t.Errorf("two contents, one id %s", url_)
	}
}

// TestFHIRJSONResourceShapes: members whose type differs between resource
// types (Encounter.type is a list, Bundle.type a code) do not make a
// resource unreadable.
func TestFHIRJSONResourceShapes(t *testing.T) {
	u := convertFHIR(t, FHIRJSON{}, "fhir-json", `{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"type":[{"text":"visit"}],"subject":{"reference":"Patient/p1"}}`)[0]
	if _, method, url_, _ := fhirEntryOf(t, u); method != "PUT" || url_ != "Encounter/e1" {
		t.Errorf("request %s %s", method, url_)
	}
	u = convertFHIR(t, FHIRJSON{}, "fhir-json", `{"resourceType":"Bundle","type":"collection"}`)[0]
	if u.Err == nil || !strings.Contains(u.Err.Error(), `"collection"`) {
		t.Errorf("collection Bundle: %v", u.Err)
	}
}

// TestFHIRJSONResendCreatesOnce: a redelivery (the exchange committed, the
// response was lost) of every kind of pass-through write leaves the
// exchange as the first delivery did.
func TestFHIRJSONResendCreatesOnce(t *testing.T) {
	recv := fhirrecv.New()
	srv := httptest.NewServer(recv)
	defer srv.Close()
	ndjson := `{"resourceType":"Patient","id":"p1"}
{"resourceType":"Observation","status":"final","code":{"text":"k"},"valueQuantity":{"value":4.10},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Observation","status":"final","code":{"text":"na"},"identifier":[{"system":"urn:oid:1.2","value":"o9"}],"subject":{"reference":"Patient/p1"}}
{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}
`
	send := func() {
		for _, u := range convertFHIR(t, FHIRJSON{}, "fhir-ndjson", ndjson) {
			if u.Err != nil {
				t.Fatalf("%s: %v", u.Name, u.Err)
			}
			resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", u.Name, resp.StatusCode)
			}
		}
	}
	send()
	send()
	want := map[string]int{"Patient": 1, "Observation": 2, "Binary": 1}
	if got := recv.Counts(); !maps.Equal(got, want) {
		t.Errorf("after a re-send the exchange holds %v, want %v", got, want)
	}
	var stored []byte
	for _, o := range recv.Resources("Observation") {
		stored = append(stored, o...)
	}
	if !bytes.Contains(stored, []byte(`"value":4.10`)) {
		t.Errorf("stored Observations %s", stored)
	}
}

// TestFHIRJSONRefusesOddIDs: an id or resourceType that would change the
// request URL's meaning (another resource, a search) is refused with its
// reason, not sent.
func TestFHIRJSONRefusesOddIDs(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"Patient","id":"x/../../Observation/y"}`: "not a FHIR id",
		`{"resourceType":"Patient","id":"a?identifier=b"}`:        "not a FHIR id",
		`{"resourceType":"Patient","id":""}`:                      "",
		`{"resourceType":"Patient","id":"ok-1.2"}`:                "",
		`{"resourceType":"Patient/1","id":"x"}`:                   "not a FHIR resource type",
	} {
		units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "p.json", Body: []byte(body)})
		if err != nil || len(units) != 1 {
			t.Fatalf("%s: %v %v", body, err, units)
		}
		if got := units[0].Err; want == "" && got != nil || want != "" && (got == nil || !strings.Contains(got.Error(), want)) {
			t.Errorf("%s: %v, want %q", body, got, want)
		}
	}
}

// TestFHIRJSONBundleHighWaterMark: a dropped resource's labels give the
// transaction that wraps it its high-water mark, as a converter's bundle
// has one: the confidentiality and sensitivity, not the refrain code. A
// resource whose meta is not what FHIR says still goes, unlabelled.
func TestFHIRJSONBundleHighWaterMark(t *testing.T) {
	body := []byte(`{"resourceType":"Condition","id":"c1","meta":{"security":[` +
		`{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"},` +
		`{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"NORDSCLCD"},` +
		`{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"SUD"}]},` +
		`"subject":{"reference":"Patient/p1"}}`)
	units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "c.json", Body: body})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("convert: %v %v", err, units)
	}
	var b struct {
		Meta  *fhir.Meta
		Entry []struct{ Resource json.RawMessage }
	}
	if err := json.Unmarshal(units[0].Bundle, &b); err != nil || b.Meta == nil {
		t.Fatalf("bundle %s: %v", units[0].Bundle, err)
	}
	var got []string
	for _, c := range b.Meta.Security {
		got = append(got, c.Code)
	}
	if strings.Join(got, ",") != "R,SUD" {
		t.Errorf("Bundle meta.security %v, want R,SUD", got)
	}
	if !bytes.Contains(b.Entry[0].Resource, []byte("NORDSCLCD")) {
		t.Errorf("the resource lost its refrain code: %s", b.Entry[0].Resource)
	}

	odd := []byte(`{"resourceType":"Condition","id":"c2","meta":{"security":"R"},"subject":{"reference":"Patient/p1"}}`)
	units, err = FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "odd.json", Body: odd})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("odd meta: %v %v", err, units)
	}
	if bytes.Contains(units[0].Bundle, []byte(`"Bundle","type":"transaction","meta"`)) {
		t.Errorf("odd meta gave the bundle labels: %s", units[0].Bundle)
	}
}

// TestFHIRJSONBundleHighWaterMarkR4System: a dropped resource labelled
// under v3-Confidentiality's STU3 URI in lower case keeps its label as
// written, and the transaction that wraps it carries the R4 code (R under
// http://terminology.hl7.org/CodeSystem/v3-Confidentiality), the one an
// exchange's DS4P rules look for.
func TestFHIRJSONBundleHighWaterMarkR4System(t *testing.T) {
	body := []byte(`{"resourceType":"Condition","id":"c1","meta":{"security":[` +
		`{"system":"http://hl7.org/fhir/v3/Confidentiality","code":"r"}]},` +
		`"subject":{"reference":"Patient/p1"}}`)
	units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "c.json", Body: body})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("convert: %v %v", err, units)
	}
	var b struct {
		Meta  *fhir.Meta
		Entry []struct{ Resource json.RawMessage }
	}
	if err := json.Unmarshal(units[0].Bundle, &b); err != nil || b.Meta == nil {
		t.Fatalf("bundle %s: %v", units[0].Bundle, err)
	}
	if len(b.Meta.Security) != 1 || b.Meta.Security[0].System != fhir.SystemConfidentiality || b.Meta.Security[0].Code != "R" {
		t.Errorf("Bundle meta.security %+v, want R under %s", b.Meta.Security, fhir.SystemConfidentiality)
	}
	if !bytes.Contains(b.Entry[0].Resource, []byte(`"http://hl7.org/fhir/v3/Confidentiality","code":"r"`)) {
		t.Errorf("the resource's own label changed: %s", b.Entry[0].Resource)
	}
}

// TestFHIRJSONNotUTF8Refused: FHIR JSON is UTF-8 (RFC 8259 8.1, FHIR R4
// json.html), and a line of an export saved in Windows-1252 ("M\xfcller")
// is refused with its reason, naming where the first byte that is not
// UTF-8 stands, rather than sent as it came: such text is no JSON text an
// exchange must read (HAPI FHIR refuses it, so the line was dead-lettered
// at the exchange; a server that reads it replaces the letter, and the
// patient's name is stored garbled). The file's other lines go.
func TestFHIRJSONNotUTF8Refused(t *testing.T) {
	nd := "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"Rivera\"}]}\n" +
		"{\"resourceType\":\"Patient\",\"id\":\"p2\",\"name\":[{\"family\":\"M\xfcller\"}]}\n"
	units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-ndjson", Name: "p.ndjson", Body: []byte(nd)})
	if err != nil || len(units) != 2 {
		t.Fatalf("convert: %v %v", err, units)
	}
	if units[0].Err != nil {
		t.Errorf("line 1: %v", units[0].Err)
	}
	if e := units[1].Err; e == nil || !strings.Contains(e.Error(), "UTF-8") || !strings.Contains(e.Error(), "0xfc") || !strings.Contains(e.Error(), "offset 56") {
		t.Errorf("line 2 (Windows-1252): %v, bundle %q", e, units[1].Bundle)
	}
	doc := "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"name\":[{\"family\":\"M\xfcller\"}]}"
	units, err = FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "p.json", Body: []byte(doc)})
	if err != nil || len(units) != 1 {
		t.Fatalf("convert: %v %v", err, units)
	}
	if e := units[0].Err; e == nil || !strings.Contains(e.Error(), "UTF-8") {
		t.Errorf("document (Windows-1252): %v, bundle %q", e, units[0].Bundle)
	}
}
