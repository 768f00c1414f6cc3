package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// idExchange is a FHIR transaction endpoint that keeps resources by id and
// resolves what the pass-through sends as a FHIR server does: a
// conditional create (ifNoneExist identifier=system|value) finds a stored
// resource by its identifier whatever its id, a plain POST gets an id of
// the exchange's, PUT Type/id writes that id, and each entry's urn:uuid
// fullUrl is rewritten to the id it ends under wherever the other entries
// refer to it; a conditional update (PUT Type?identifier=system|value)
// writes the resource its search finds, else a new one. Like a
// Medplum-based exchange it refuses a transaction of
// more than fhir.MaxConditionalEntries entries holding a conditional
// create or update, and, as HAPI FHIR does by default, a reference to a resource
// neither stored nor written by the same transaction.
type idExchange struct {
	mu    sync.Mutex
	store map[string]map[string]map[string]any // type → id → resource
	next  int
}

func newIDExchange() *idExchange {
	return &idExchange{store: map[string]map[string]map[string]any{}}
}

func (x *idExchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b struct {
		Type  string
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  struct{ Method, URL, IfNoneExist string }
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "transaction" {
		http.Error(w, "not a transaction", http.StatusBadRequest)
		return
	}
	for _, e := range b.Entry {
		if (e.Request.IfNoneExist != "" || strings.Contains(e.Request.URL, "?")) && len(b.Entry) > fhir.MaxConditionalEntries {
			http.Error(w, "Transaction requires strict isolation but has too many entries", http.StatusBadRequest)
			return
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// The ids first (creates before updates, as FHIR orders them), then
	// the references rewritten and the resources stored.
	ids := make([]string, len(b.Entry))
	found := make([]bool, len(b.Entry))
	urls := map[string]string{}
	for i, e := range b.Entry {
		var typ string
		if e.Request.Method == "POST" {
			typ = e.Request.URL
			if q := e.Request.IfNoneExist; q != "" {
				ids[i], found[i] = x.find(typ, q)
			}
			if !found[i] {
				x.next++
				ids[i] = "srv-" + strconv.Itoa(x.next)
			}
		} else if t, q, ok := strings.Cut(e.Request.URL, "?"); ok && e.Request.Method == "PUT" {
			// A conditional update: the resource its search finds, else
			// a new one.
			typ = t
			if ids[i], ok = x.find(typ, q); !ok {
				x.next++
				ids[i] = "srv-" + strconv.Itoa(x.next)
			}
		} else {
			var ok bool
			if typ, ids[i], ok = strings.Cut(e.Request.URL, "/"); !ok || strings.Contains(e.Request.URL, "?") {
				http.Error(w, "unsupported request "+e.Request.URL, http.StatusBadRequest)
				return
			}
		}
		if e.FullURL != "" {
			urls[e.FullURL] = typ + "/" + ids[i]
		}
	}
	written := map[string]bool{}
	for _, to := range urls {
		written[to] = true
	}
	for i, e := range b.Entry {
		if found[i] {
			continue
		}
		res := string(e.Resource)
		for from := range urls {
			res = strings.ReplaceAll(res, `"`+from+`"`, `""`)
		}
		for _, ref := range references([]byte(res)) {
			typ, id, _ := strings.Cut(ref, "/")
			if ref != "" && !written[ref] && x.store[typ][id] == nil {
				http.Error(w, "entry refers to "+ref+", which does not exist", http.StatusBadRequest)
				return
			}
		}
		res = string(e.Resource)
		for from, to := range urls {
			res = strings.ReplaceAll(res, `"`+from+`"`, `"`+to+`"`)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(res), &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		typ, _ := m["resourceType"].(string)
		m["id"] = ids[i]
		if x.store[typ] == nil {
			x.store[typ] = map[string]map[string]any{}
		}
		x.store[typ][ids[i]] = m
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	resp := `{"resourceType":"Bundle","type":"transaction-response","entry":[`
	for i := range b.Entry {
		if i > 0 {
			resp += ","
		}
		resp += `{"response":{"status":"200 OK"}}`
	}
	io.WriteString(w, resp+"]}")
}

// find returns the id of the resource of type typ with the identifier
// the search q (identifier=system|value) names.
func (x *idExchange) find(typ, q string) (string, bool) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return "", false
	}
	want := v.Get("identifier")
	for id, res := range x.store[typ] {
		idents, _ := res["identifier"].([]any)
		for _, ident := range idents {
			m, _ := ident.(map[string]any)
			if fmt.Sprint(m["system"], "|", m["value"]) == want {
				return id, true
			}
		}
	}
	return "", false
}

// references lists the reference values in a resource.
func references(res []byte) []string {
	var v any
	_ = json.Unmarshal(res, &v)
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "reference" {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// count is the number of stored resources of type typ.
func (x *idExchange) count(typ string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.store[typ])
}

// dangling lists the references of stored resources that name no stored
// resource.
func (x *idExchange) dangling() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "reference" {
					typ, id, _ := strings.Cut(s, "/")
					if x.store[typ][id] == nil {
						out = append(out, s)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, byID := range x.store {
		for _, res := range byID {
			walk(res)
		}
	}
	return out
}

// TestLargeTransactionFindsThePatient: an EHR's transaction for a patient
// the exchange already holds (created by an earlier, smaller export of
// the same patient through the pass-through, or by any other feed that
// files the patient under an id of the exchange's) is tied to that
// Patient, whatever its size. A transaction of more than
// fhir.MaxConditionalEntries entries was written all as PUTs under ids
// derived from each entry's identifier, its Patient included: a second
// Patient with the same identifier appeared beside the exchange's, the
// data filed under it, and every later conditional write by that
// identifier failed (412, two matches). It is now cut into parts that
// each carry the Patient's conditional create, as the HL7 v2 converter's
// patient-conditional parts do, and sent twice changes nothing.
func TestLargeTransactionFindsThePatient(t *testing.T) {
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	const enc = "urn:uuid:6f1c1d5e-61a3-4d1e-9b7a-2d2f1d1e0a01"
	const org = "urn:uuid:0c0d4f4e-8d5b-4e0a-9f3e-1d1e2f3a4b5c"
	bundle := func(first, obs int) string {
		var b strings.Builder
		// The Patient refers to an Organization written after it, and
		// the Observations to an Encounter written after them.
		b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"` + pat + `","resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}],"managingOrganization":{"reference":"` + org + `"}},"request":{"method":"POST","url":"Patient"}}`)
		for i := first; i < first+obs; i++ {
			fmt.Fprintf(&b, `,{"fullUrl":"urn:uuid:00000000-0000-4000-8000-%012d","resource":{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"%d"}],"status":"final","code":{"text":"k"},"valueQuantity":{"value":%d},"subject":{"reference":"%s"},"encounter":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, i, i, i, pat, enc)
		}
		b.WriteString(`,{"fullUrl":"` + enc + `","resource":{"resourceType":"Encounter","identifier":[{"system":"urn:enc","value":"v1"}],"status":"finished","class":{"code":"AMB"},"subject":{"reference":"` + pat + `"}},"request":{"method":"POST","url":"Encounter"}}`)
		b.WriteString(`,{"fullUrl":"` + org + `","resource":{"resourceType":"Organization","identifier":[{"system":"urn:org","value":"o1"}],"name":"Clinic"},"request":{"method":"POST","url":"Organization"}}`)
		return b.String() + `]}`
	}
	x := newIDExchange()
	srv := httptest.NewServer(x)
	defer srv.Close()
	send := func(body string) {
		t.Helper()
		units := convertFHIR(t, FHIRJSON{}, "fhir-json", body)
		for _, u := range units {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", u.Name, resp.StatusCode, msg)
			}
		}
	}
	send(bundle(100, 1)) // 4 entries: the Patient created under the exchange's id
	if n := x.count("Patient"); n != 1 {
		t.Fatalf("%d Patients after the first export", n)
	}
	for range 2 { // 13 entries, and a redelivery
		send(bundle(0, 10))
	}
	if n := x.count("Patient"); n != 1 {
		t.Errorf("the exchange holds %d Patients with one identifier, want 1", n)
	}
	if n := x.count("Observation"); n != 11 {
		t.Errorf("the exchange holds %d Observations, want 11", n)
	}
	if d := x.dangling(); len(d) > 0 {
		t.Errorf("references to nothing: %v", d)
	}
	x.mu.Lock()
	for _, o := range x.store["Observation"] {
		if ref := o["subject"].(map[string]any)["reference"]; ref != "Patient/srv-1" {
			t.Errorf("an Observation is filed under %v, not the exchange's Patient/srv-1", ref)
		}
	}
	x.mu.Unlock()
}

// TestLargeTransactionSameIDAsSmall: a resource whose type has no
// identifier element (a Binary, a Provenance) and no id is PUT under an
// id derived from its content in a transaction of any size, and alone;
// a transaction of more than fhir.MaxConditionalEntries entries derived
// another id from the same content than a smaller one or an NDJSON line,
// so the same document's Binary exported in a small transaction, then in
// a larger one (a visit's export that grew), or once as a line of a bulk
// export, was stored twice.
func TestLargeTransactionSameIDAsSmall(t *testing.T) {
	const bin = `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`
	bundle := func(obs int) string {
		var b strings.Builder
		b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + bin + `,"request":{"method":"POST","url":"Binary"}}`)
		for i := range obs {
			fmt.Fprintf(&b, `,{"resource":{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"%d"}],"status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}},"request":{"method":"POST","url":"Observation"}}`, i)
		}
		return b.String() + `]}`
	}
	recv := fhirrecv.New()
	srv := httptest.NewServer(recv)
	defer srv.Close()
	for _, in := range []struct{ format, body string }{{"fhir-json", bundle(2)}, {"fhir-json", bundle(12)}, {"fhir-ndjson", bin + "\n"}} {
		for _, u := range convertFHIR(t, FHIRJSON{}, in.format, in.body) {
			if u.Err != nil {
				t.Fatal(u.Err)
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
	if n := recv.Counts()["Binary"]; n != 1 {
		t.Errorf("one Binary sent in a small transaction, a large one and alone is stored %d times", n)
	}
}
