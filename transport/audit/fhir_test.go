package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// TestEventFHIR: the DICOM event maps onto a FHIR R4 AuditEvent field by
// field (type, subtype, action, outcome, agents, source, entities).
func TestEventFHIR(t *testing.T) {
	ev := exportN(7)
	ev.AuditSourceID, ev.AuditSite = "ferry-clinic-1", "Main Street Clinic"
	b, err := ev.FHIR()
	if err != nil {
		t.Fatal(err)
	}
	var ae map[string]any
	if err := json.Unmarshal(b, &ae); err != nil {
		t.Fatal(err)
	}
	str := func(v any, path ...any) string {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				a, _ := v.([]any)
				if k >= len(a) {
					return ""
				}
				v = a[k]
			}
		}
		s, _ := v.(string)
		return s
	}
	for _, c := range []struct{ got, want string }{
		{str(ae, "resourceType"), "AuditEvent"},
		{str(ae, "type", "system"), "http://dicom.nema.org/resources/ontology/DCM"},
		{str(ae, "type", "code"), "110106"},
		{str(ae, "subtype", 0, "system"), "urn:ihe:event-type-code"},
		{str(ae, "subtype", 0, "code"), "ITI-65"},
		{str(ae, "action"), "R"},
		{str(ae, "outcome"), "0"},
		{str(ae, "agent", 0, "type", "coding", 0, "code"), "110153"},
		{str(ae, "agent", 0, "who", "identifier", "value"), "ferry-test"},
		{str(ae, "agent", 0, "network", "address"), "127.0.0.1"},
		{str(ae, "agent", 0, "network", "type"), "2"},
		{str(ae, "agent", 1, "type", "coding", 0, "code"), "110152"},
		{str(ae, "agent", 1, "who", "identifier", "value"), "https://hie.example/fhir"},
		{str(ae, "agent", 1, "network", "type"), "1"},
		{str(ae, "source", "site"), "Main Street Clinic"},
		{str(ae, "source", "observer", "identifier", "value"), "ferry-clinic-1"},
		{str(ae, "source", "type", 0, "code"), "4"},
		{str(ae, "entity", 0, "what", "identifier", "value"), "8f2c0a"},
		{str(ae, "entity", 0, "what", "identifier", "type", "coding", 0, "system"), "urn:ferry:id-type"},
		{str(ae, "entity", 0, "type", "code"), "1"},
		{str(ae, "entity", 0, "role", "code"), "1"},
		{str(ae, "entity", 0, "detail", 0, "type"), "MSH-10"},
		{str(ae, "entity", 0, "detail", 0, "valueString"), "MSG00007"},
		{str(ae, "entity", 1, "role", "code"), "20"},
		// ITI-65: the bundle id each attempt sends as X-Request-Id is a
		// detail of the submission set (MHD's profile has two entities).
		{str(ae, "entity", 1, "detail", 0, "type"), "X-Request-Id"},
		{str(ae, "entity", 1, "detail", 0, "valueString"), "bundle-00007"},
		{str(ae, "entity", 2, "type", "code"), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q in %s", c.got, c.want, b)
		}
	}
	// Any other FHIR transaction names BALP's XrequestId entity: the
	// bundle id each attempt sends as X-Request-Id, typed by entity.type,
	// the identifier untyped.
	tx := ExportEvent(Export{Gateway: "ferry-test", ExchangeURL: "https://hie.example/fhir", Patient: "8f2c0a", IDType: IDPatientKey, BundleID: "bundle-00008"})
	tx.AuditSourceID = "ferry-clinic-1"
	tb, err := tx.FHIR()
	if err != nil {
		t.Fatal(err)
	}
	var te map[string]any
	if err := json.Unmarshal(tb, &te); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{str(te, "entity", 2, "type", "system"), "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"},
		{str(te, "entity", 2, "type", "code"), "XrequestId"},
		{str(te, "entity", 2, "what", "identifier", "value"), str(te, "entity", 1, "what", "identifier", "value")},
		{str(te, "entity", 2, "what", "identifier", "type", "coding", 0, "code"), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q in %s", c.got, c.want, tb)
		}
	}
	if !strings.HasSuffix(str(ae, "recorded"), "Z") {
		t.Errorf("recorded %q", str(ae, "recorded"))
	}
	if got := fhirSystem("HL7 v2 message type (MSH-9)"); got != "urn:ferry:code-system:hl7-v2-message-type--msh-9-" {
		t.Errorf("fhirSystem = %q", got)
	}
}

// fhirRepo is an https audit repository that takes AuditEvent POSTs with
// mutual TLS and answers with status(n) for the n-th POST.
type fhirRepo struct {
	mu     sync.Mutex
	got    []map[string]any
	raw    [][]byte // the bodies of got
	posts  int
	status func(n int) int
	// gate, when set, holds each POST until it can receive from it (a
	// repository slower than the events come).
	gate chan struct{}
	// page, when set and giving a content type, answers the nth POST
	// with that body and status code instead of the repository: what a
	// proxy, portal or web front end answers; nothing is stored.
	page func(n int) (code int, ct, body string)
}

func startFHIRRepo(t *testing.T, p pki.Paths, r *fhirRepo) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(p.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.gate != nil {
			<-r.gate
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.posts++
		code := http.StatusCreated
		if r.status != nil {
			code = r.status(r.posts)
		}
		if req.Method != http.MethodPost || req.URL.Path != "/fhir/AuditEvent" || req.Header.Get("Content-Type") != "application/fhir+json" {
			code = http.StatusNotFound
		}
		body, _ := io.ReadAll(req.Body)
		if r.page != nil {
			if code, ct, page := r.page(r.posts); ct != "" {
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(code)
				io.WriteString(w, page)
				return
			}
		}
		if code/100 == 2 {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				r.got = append(r.got, m)
				r.raw = append(r.raw, body)
			}
		}
		if code/100 == 2 {
			// FHIR R4 http.html#create: the server "SHALL also return a
			// Location header".
			w.Header().Set("Location", fmt.Sprintf("AuditEvent/%d/_history/1", r.posts))
		}
		w.WriteHeader(code)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/"
}

func (r *fhirRepo) count() (got, posts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.posts
}

// TestFHIRFeed: with an https repository the Sink POSTs AuditEvents over
// mutual TLS, in order; while the repository answers 503 they wait in the
// spool and go once it recovers; an event it refuses as invalid (422) is
// counted as dropped and not sent again.
func TestFHIRFeed(t *testing.T) {
	p := demoPKI(t)
	r := &fhirRepo{status: func(n int) int {
		switch {
		case n >= 3 && n <= 5:
			return http.StatusServiceUnavailable
		case n == 7:
			return http.StatusUnprocessableEntity
		}
		return http.StatusCreated
	}}
	url := startFHIRRepo(t, p, r)
	s := newSink(t, url, clientTLS(p), t.TempDir(), nil)
	start(t, s)
	for i := range 10 {
		s.Record(exportN(i))
	}
	waitStats(t, s, "every event sent or refused", func(st Stats) bool { return st.Pending == 0 && st.Sent+st.Dropped >= 10 })
	got, posts := r.count()
	if got != 9 {
		t.Errorf("repository stored %d events, want 9 (one refused with 422)", got)
	}
	if posts < 13 {
		t.Errorf("%d POSTs, want at least 13 (3 refused with 503 and sent again)", posts)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want 1 (the 422)", st.Dropped)
	}
	r.mu.Lock()
	var ids []string
	for _, m := range r.got {
		ent := m["entity"].([]any)
		last := ent[len(ent)-1].(map[string]any)
		ids = append(ids, last["what"].(map[string]any)["identifier"].(map[string]any)["value"].(string))
	}
	r.mu.Unlock()
	for i := 1; i < len(ids); i++ {
		if ids[i] < ids[i-1] {
			t.Errorf("events out of order: %v", ids)
			break
		}
	}
	shutdown(t, s)
}

// TestFHIRFeedNeedsClientCert: the https repository refuses a client
// without a certificate it trusts; the events stay spooled.
func TestFHIRFeedNeedsClientCert(t *testing.T) {
	p, other := demoPKI(t), demoPKI(t)
	r := &fhirRepo{}
	url := startFHIRRepo(t, p, r)
	tc := clientTLS(other)
	tc.CAFile = p.CA
	s := newSink(t, url, tc, t.TempDir(), nil)
	start(t, s)
	s.Record(exportN(1))
	waitStats(t, s, "the event spooled", func(st Stats) bool { return st.Pending == 1 })
	if got, _ := r.count(); got != 0 {
		t.Errorf("repository stored %d events from an unknown client", got)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestExportEventV2: an HL7 v2 message forwarded over MLLP is exported
// under its own message type, not as a FHIR transaction.
func TestExportEventV2(t *testing.T) {
	ev := ExportEvent(Export{Gateway: "ferry", ExchangeURL: "mllps://hie:6661", V2MessageType: "ADT^A01", BundleID: "01X"})
	if ev.Type.Code != "ADT^A01" || ev.Type != TypeInput("hl7v2", "ADT^A01") {
		t.Errorf("type %+v", ev.Type)
	}
	for _, o := range ev.Objects {
		if o.IDType == IDXRequestID {
			t.Errorf("an MLLP forward sends no X-Request-Id, but the event names one: %+v", o)
		}
	}
	if ev := ExportEvent(Export{Gateway: "ferry", ExchangeURL: "https://hie/fhir"}); ev.Type != TypeFHIRTransaction {
		t.Errorf("FHIR export type %+v", ev.Type)
	}
	// A bundle written to an SFTP drop went in no HTTP request.
	ev = ExportEvent(Export{Gateway: "ferry", ExchangeURL: "sftp://ferry@hie/in", File: true, BundleID: "01F"})
	for _, o := range ev.Objects {
		if o.IDType == IDXRequestID {
			t.Errorf("a file delivery names an X-Request-Id: %+v", o)
		}
	}
	if len(ev.Objects) != 1 || ev.Objects[0].IDType != IDBundle || ev.Type != TypeFHIRTransaction {
		t.Errorf("file export: %+v %+v", ev.Type, ev.Objects)
	}
}

// TestExportEventITI105: a document published with MHD Simplified
// Publish is recorded as ITI-105's create (BALP PatientCreate), naming the DocumentReference by its
// unique id as a system object in the role of a job (MHD audit-105), and
// no Bundle, which the request did not carry; its X-Request-Id stays.
// The FHIR form gives the subtype urn:ihe:event-type-code#ITI-105.
func TestExportEventITI105(t *testing.T) {
	ev := ExportEvent(Export{Gateway: "ferry", ExchangeURL: "https://hie/fhir", MHD: true, Document: "urn:oid:2.25.7", BundleID: "01X", Patient: "pk", IDType: IDPatientKey})
	if ev.ID != EventREST || ev.Type != TypeRESTCreate || len(ev.Subtypes) != 1 || ev.Subtypes[0] != TypeITI105 || ev.Action != ActionCreate {
		t.Errorf("event %+v %+v %+v %s", ev.ID, ev.Type, ev.Subtypes, ev.Action)
	}
	var doc, req bool
	for _, o := range ev.Objects {
		switch o.IDType {
		case IDDocumentEntry:
			doc = o.ID == "urn:oid:2.25.7" && o.TypeCode == 2 && o.Role == 20
		case IDXRequestID:
			req = o.ID == "01X"
		case IDBundle, IDSubmissionSet:
			t.Errorf("an ITI-105 export names %s", o.IDType.Text)
		}
	}
	if !doc || !req {
		t.Errorf("document named %v, X-Request-Id named %v: %+v", doc, req, ev.Objects)
	}
	ev.AuditSourceID = "ferry"
	js, err := ev.FHIR()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `{"system":"urn:ihe:event-type-code","code":"ITI-105","display":"Simplified Publish"}`) ||
		!strings.Contains(string(js), `"value":"urn:oid:2.25.7"`) {
		t.Errorf("FHIR form: %s", js)
	}
	// The same export of a bundle is ITI-65's, as before.
	if ev := ExportEvent(Export{Gateway: "ferry", ExchangeURL: "https://hie/fhir", MHD: true, SubmissionSet: "urn:oid:2.25.8"}); ev.Type != TypeITI65 {
		t.Errorf("ITI-65 export type %+v", ev.Type)
	}
}

// TestFHIRFeedDownIsNotReachable: an https repository has no session to
// open, so a "dial" always succeeds; while the repository answers 503 the
// sink must neither report it connected nor log it "reachable again" at
// every redial (the log would alternate unreachable/reachable every 10
// seconds for as long as it is down, and ferry status would say
// connected).
func TestFHIRFeedDownIsNotReachable(t *testing.T) {
	p := demoPKI(t)
	r := &fhirRepo{status: func(int) int { return http.StatusServiceUnavailable }}
	url := startFHIRRepo(t, p, r)
	var logs syncBuffer
	s := newSink(t, url, clientTLS(p), t.TempDir(), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, s)
	s.Record(exportN(1))
	waitStats(t, s, "the event spooled", func(st Stats) bool { return st.Pending == 1 })
	for {
		if _, posts := r.count(); posts >= 4 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.Connected {
		t.Errorf("status says connected while every POST is answered 503: %+v", st)
	}
	shutdown(t, s)
	if n := strings.Count(logs.String(), "reachable again"); n != 0 {
		t.Errorf("%d \"reachable again\" lines for a repository that never took an event:\n%s", n, logs.String())
	}
}

// TestFHIRFeedProxyPageIsNotSent: an answer that is not the repository's
// keeps the event spooled: a 200 login page of a TLS-inspecting proxy or
// captive portal (the event was counted sent, and lost), and a bare 400
// page, nginx's answer to a client certificate it did not get or take
// (the event was counted dropped as invalid). Only a FHIR server's
// rejection (an OperationOutcome) drops one.
func TestFHIRFeedProxyPageIsNotSent(t *testing.T) {
	p := demoPKI(t)
	r := &fhirRepo{page: func(n int) (int, string, string) {
		switch n {
		case 1, 2:
			return http.StatusOK, "text/html", "<html><body>Sign in to continue</body></html>"
		case 3:
			return http.StatusBadRequest, "text/html", "<html><head><title>400 No required SSL certificate was sent</title></head></html>"
		case 4:
			return http.StatusOK, "application/json", `{"status":"ok"}`
		}
		return 0, "", ""
	}}
	url := startFHIRRepo(t, p, r)
	s := newSink(t, url, clientTLS(p), t.TempDir(), nil)
	start(t, s)
	s.Record(exportN(1))
	s.Record(exportN(2))
	waitStats(t, s, "both events settled", func(st Stats) bool { return st.Pending == 0 && st.Sent+st.Dropped >= 2 })
	if got, posts := r.count(); got != 2 || posts < 6 {
		t.Errorf("repository stored %d events in %d POSTs, want 2 after the proxy's 4 pages", got, posts)
	}
	if st := s.Stats(); st.Dropped != 0 || st.Sent != 2 {
		t.Errorf("sent %d, dropped %d; want 2 sent, none dropped", st.Sent, st.Dropped)
	}
	shutdown(t, s)
}
