package fhirhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

type verdict int

const (
	delivered  verdict = iota
	retry              // retryable, an ordinary outage
	endpoint           // retryable, flagged as an endpoint problem
	deadLetter         // permanent
)

func (v verdict) String() string {
	return [...]string{"delivered", "retry", "endpoint problem", "dead letter"}[v]
}

func verdictOf(err error) verdict {
	switch {
	case err == nil:
		return delivered
	case queue.IsPermanent(err):
		return deadLetter
	case IsEndpointProblem(err):
		return endpoint
	}
	return retry
}

// TestAnswerClassification: only a FHIR answer to the bundle sent counts as
// delivered, and only a FHIR server's rejection dead-letters; what a proxy,
// portal or wrong URL answers is retried and flagged as an endpoint
// problem (the audit's reproductions, 2xx and 4xx).
func TestAnswerClassification(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Jane Roe not stored"}]}`
	html := "text/html; charset=utf-8"
	cases := []struct {
		name  string
		code  int
		ct    string
		body  string
		hdr   map[string]string
		item  *queue.Item
		want  verdict
		inErr string
	}{
		{"200 transaction-response", 200, MediaType, txResponse, nil, nil, delivered, ""},
		{"201 transaction-response, json type", 201, "application/json", txResponse, nil, nil, delivered, ""},
		{"200 batch-response to a batch", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"201"}}]}`, nil, bundleItem("b", "batch", 2), delivered, ""},
		{"200 batch-response, one PATCH 404", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"404 Not Found","outcome":` + oo + `}}]}`, nil, bundleItem("p", "batch", 2), deadLetter, "batch entry 1: exchange answered 404 Not Found: error processing: Jane Roe not stored (the exchange holds no resource at this entry's URL; for an HL7 v2 status change (OBX-11 U)"},
		{"200 empty transaction", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response"}`, nil, bundleItem("e", "transaction", 0), delivered, ""},
		{"200 html proxy page", 200, html, "<html><body>Access denied by proxy policy</body></html>", nil, nil, endpoint, "text/html page"},
		{"200 OperationOutcome error", 200, MediaType, oo, nil, nil, endpoint, "OperationOutcome"},
		{"200 transaction-response without entries", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response"}`, nil, nil, endpoint, "0 entries for the 1 sent"},
		{"200 transaction-response, one entry short", 200, MediaType, txResponse, nil, bundleItem("s", "transaction", 2), endpoint, "1 entries for the 2 sent"},
		{"200 batch-response to a transaction", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"201"}}]}`, nil, nil, endpoint, "type batch-response to a transaction"},
		{"200 searchset", 200, MediaType, `{"resourceType":"Bundle","type":"searchset","entry":[{"response":{"status":"201"}}]}`, nil, nil, endpoint, "type searchset"},
		{"200 Patient", 200, MediaType, `{"resourceType":"Patient","id":"1"}`, nil, nil, endpoint, "answered a Patient"},
		{"200 entry without status", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"resource":{"resourceType":"Patient"}}]}`, nil, nil, endpoint, "no response status"},
		{"200 truncated json", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201"`, nil, nil, endpoint, "cut or not valid JSON"},
		{"200 trailing garbage", 200, MediaType, txResponse + `}`, nil, nil, endpoint, "cut or not valid JSON"},
		{"200 empty", 200, "", "", nil, nil, endpoint, "no body"},
		{"202 accepted", 202, "", "", nil, nil, endpoint, "202 Accepted to a transaction"},
		{"204 no content", 204, "", "", nil, nil, endpoint, "no body"},
		{"200 entry 503", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"503"}}]}`, nil, nil, retry, "503"},
		{"301", 301, "", "", map[string]string{"Location": "https://hie.example/fhir/"}, nil, endpoint, "hie.example"},
		{"308", 308, "", "", map[string]string{"Location": "https://hie.example/fhir/"}, nil, endpoint, "redirects"},
		{"401", 401, "", "", nil, nil, endpoint, "credentials"},
		{"407", 407, "", "", nil, nil, endpoint, "proxy"},
		{"403 html firewall", 403, html, "<h1>Forbidden</h1>", nil, nil, endpoint, "refused access"},
		{"404 html wrong base", 404, html, "<h1>Not Found</h1>", nil, nil, endpoint, "not the FHIR base"},
		{"404 empty", 404, "", "", nil, nil, endpoint, "empty body"},
		{"405", 405, "text/plain", "method not allowed", nil, nil, endpoint, "text/plain page"},
		{"406", 406, "", "", nil, nil, endpoint, "406"},
		{"410 html", 410, html, "<h1>Gone</h1>", nil, nil, endpoint, "410"},
		{"415", 415, "", "", nil, nil, endpoint, "415"},
		{"501 empty", 501, "", "", nil, nil, endpoint, "501"},
		{"403 OperationOutcome", 403, MediaType, oo, nil, nil, deadLetter, "processing"},
		{"404 OperationOutcome (unresolvable reference)", 404, MediaType, oo, nil, nil, deadLetter, "not stored"},
		{"400 OperationOutcome", 400, MediaType, oo, nil, nil, deadLetter, "400"},
		{"400 html from nginx (client certificate)", 400, html, "<h1>400 No required SSL certificate was sent</h1>", nil, nil, endpoint, "client certificate"},
		{"409 (retried a few times by the dispatcher)", 409, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict"}]}`, nil, nil, retry, "conflict"},
		{"409 html", 409, html, "<h1>Conflict</h1>", nil, nil, retry, "409"},
		{"200 batch-response, one PATCH 404, missing allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"404 Not Found","outcome":` + oo + `}}]}`, nil, missingOK(bundleItem("m", "batch", 2)), delivered, ""},
		{"200 batch-response, one PATCH 410, missing allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"410 Gone"}}]}`, nil, missingOK(bundleItem("m", "batch", 1)), delivered, ""},
		{"200 batch-response, conditional PATCH 400 matched nothing (Medplum), missing allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"Conditional PATCH did not match any resources"},"expression":["Bundle.entry[0].request.url"]}]}}}]}`, nil, missingOK(bundleItem("m", "batch", 1)), delivered, ""},
		{"200 batch-response, conditional PATCH 400 matched nothing, missing not allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"Conditional PATCH did not match any resources"}}]}}}]}`, nil, bundleItem("m", "batch", 1), deadLetter, "400"},
		{"200 batch-response, PATCH 400 for another reason, missing allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"Invalid patch operation"}}]}}}]}`, nil, missingOK(bundleItem("m", "batch", 1)), deadLetter, "400"},
		{"200 batch-response, one PATCH 422, missing allowed", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"422"}}]}`, nil, missingOK(bundleItem("m", "batch", 1)), deadLetter, "batch entry 0: exchange answered 422"},
		{"200 transaction-response with a 404 entry, missing allowed only for batches", 200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"404 Not Found"}}]}`, nil, missingOK(bundleItem("m", "transaction", 1)), deadLetter, "404"},
		{"200 batch-response, one entry 409", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"409 Conflict","outcome":` + oo + `}}]}`, nil, bundleItem("c", "batch", 2), retry, "batch entry 1: exchange answered 409 Conflict"},
		{"200 batch-response, 409 and 422", 200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"409 Conflict"}},{"response":{"status":"422"}}]}`, nil, bundleItem("c2", "batch", 2), deadLetter, "batch entry 1: exchange answered 422"},
		{"412", 412, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches"}]}`, nil, nil, deadLetter, "merge the duplicates there, then run `ferry queue retry 01AUDIT`"},
		{"413 html", 413, html, "<h1>413 Request Entity Too Large</h1>", nil, nil, deadLetter, "larger than the exchange accepts"},
		{"422", 422, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}`, nil, nil, deadLetter, "invalid"},
		{"425", 425, "", "", nil, nil, retry, "425"},
		{"429", 429, "", "", map[string]string{"Retry-After": "7"}, nil, retry, "429"},
		{"502 html", 502, html, "<h1>Bad Gateway</h1>", nil, nil, retry, "Bad Gateway"},
		{"503", 503, "", "", map[string]string{"Retry-After": "120"}, nil, retry, "503"},
	}
	for _, c := range cases {
		ex.set(canned(c.code, c.ct, c.body, c.hdr))
		it := c.item
		if it == nil {
			it = item("01AUDIT")
		}
		err := s.Send(context.Background(), it)
		if got := verdictOf(err); got != c.want {
			t.Errorf("%s: %v, want %v (%v)", c.name, got, c.want, err)
			continue
		}
		if err == nil {
			continue
		}
		if wantConflict := strings.Contains(c.name, "409") && c.want == retry; transport.IsConflict(err) != wantConflict {
			t.Errorf("%s: conflict %v, want %v", c.name, !wantConflict, wantConflict)
		}
		if !strings.Contains(err.Error(), c.inErr) {
			t.Errorf("%s: %q does not contain %q", c.name, err, c.inErr)
		}
		sum := transport.Summary(err)
		if strings.Contains(sum, "Jane Roe") {
			t.Errorf("%s: summary leaks receiver text: %s", c.name, sum)
		}
		var op interface{ ConfigProblem() string }
		flagged := errors.As(err, &op)
		if flagged != (c.want == endpoint) {
			t.Errorf("%s: flagged as a configuration problem: %v", c.name, flagged)
		}
		if flagged && (strings.Contains(op.ConfigProblem(), "Jane Roe") || !strings.HasPrefix(op.ConfigProblem(), "exchange endpoint: ")) {
			t.Errorf("%s: ConfigProblem %q", c.name, op.ConfigProblem())
		}
		if c.want == endpoint {
			if b, _ := queue.OutcomeOf(err); b != nil {
				t.Errorf("%s: a retryable error carries an outcome for a dead letter", c.name)
			}
		}
		t.Logf("%-46s %-16v %s", c.name, c.want, sum)
	}
}

// canned answers every request with code, the Content-Type ct (none when
// empty), hdr and body.
func canned(code int, ct, body string, hdr map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// TestWrongBaseDoesNotEmptyTheQueue runs the audit's 404 case through the
// real dispatcher and disk queue: with exchange.url pointing at a web
// server that answers 404 everywhere, no item is dead-lettered, the
// status shows an operator problem, and once the URL answers properly
// every item is delivered.
func TestWrongBaseDoesNotEmptyTheQueue(t *testing.T) {
	ex := newExchange(t, false)
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<html><body><h1>Not Found</h1></body></html>")
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	const n = 50
	for i := range n {
		if err := q.Put(context.Background(), &queue.Item{Key: fmt.Sprint(i), Body: []byte(bundle)}); err != nil {
			t.Fatal(err)
		}
	}
	d := transport.NewDispatcher(q, s, transport.DispatcherOptions{Workers: 4, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	waitFor(t, func() bool { return d.Stats().Retried >= 3*n })
	st := d.Stats()
	if st.DeadLettered != 0 || st.Delivered != 0 || q.Len() != n {
		t.Fatalf("after %d attempts: %d dead-lettered, %d delivered, %d queued", st.Retried, st.DeadLettered, st.Delivered, q.Len())
	}
	if !strings.Contains(st.ConfigProblem, "not the FHIR base") {
		t.Errorf("status page problem %q", st.ConfigProblem)
	}
	ex.set(nil) // the URL fixed: proper answers
	waitFor(t, func() bool { return d.Stats().Delivered == n })
	if dls, _ := q.DeadLetters(); len(dls) != 0 || q.Len() != 0 {
		t.Errorf("%d dead letters, %d queued", len(dls), q.Len())
	}
	if p := d.Stats().ConfigProblem; p != "" {
		t.Errorf("problem %q still shown after recovery", p)
	}
}

// waitFor polls cond; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStreamedAnswerChecked: a body streamed from a file is counted as it
// is sent (a proper answer is delivered, a portal page is not), and when
// the exchange answers before taking the whole body the file is counted
// afresh.
func TestStreamedAnswerChecked(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	for i := range 3 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"resource":{"resourceType":"Binary","data":"%s"},"request":{"method":"POST","url":"Binary"}}`, strings.Repeat("QUJD", 1<<20))
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	three := `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201"}},{"response":{"status":"201"}},{"response":{"status":"201"}}]}`

	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, three)
	})
	if err := s.Send(context.Background(), fileItem(t, "01F", body)); err != nil {
		t.Fatalf("proper answer to a streamed bundle: %v", err)
	}
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, strings.Replace(three, `{"response":{"status":"201"}},`, "", 1))
	})
	if err := s.Send(context.Background(), fileItem(t, "01F", body)); !IsEndpointProblem(err) || !strings.Contains(err.Error(), "2 entries for the 3 sent") {
		t.Fatalf("short answer to a streamed bundle: %v", err)
	}
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>Welcome to the guest network. Accept the terms to continue.</html>")
	})
	if err := s.Send(context.Background(), fileItem(t, "01F", body)); !IsEndpointProblem(err) || queue.IsPermanent(err) {
		t.Fatalf("portal page for a streamed bundle: %v", err)
	}

	// The answer comes before the body is taken.
	sent, err := func() (sentBundle, error) {
		it := fileItem(t, "01F", body)
		req, sent, err := newRequest(context.Background(), "https://localhost/fhir", it, nil)
		if err == nil && req.Body != nil {
			// Never sent: close the body a client would have, or the
			// file stays open (and on Windows cannot be removed).
			t.Cleanup(func() { req.Body.Close() })
		}
		return sent, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sent()
	if err != nil || sc.entries != 3 || sc.typ != "transaction" {
		t.Fatalf("count of an unsent body: %+v, %v", sc, err)
	}
}

// TestAnswerEchoingLargeBinary: an exchange that ignores Prefer:
// return=minimal and echoes a large Binary back is still understood; the
// answer is scanned, not held.
func TestAnswerEchoingLargeBinary(t *testing.T) {
	ex := newExchange(t, true)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	big := strings.Repeat("QUJD", 4<<20) // 16 MiB, more than maxResponseBytes
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"resource":{"resourceType":"Binary","data":"`+big+`"},"response":{"status":"201 Created"}}]}`)
	})
	if err := s.Send(context.Background(), item("01BIG")); err != nil {
		t.Fatal(err)
	}
}

// TestBundleScan checks the streaming scanner against encoding/json's view
// of the same bodies, fed whole and one byte at a time.
func TestBundleScan(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		rt, typ  string
		entries  int
		statuses []string
		bad      bool
	}{
		{"transaction", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{}}]}`, "Bundle", "transaction", 2, []string{"", ""}, false},
		{"keys elsewhere do not count", ` { "type" : "transaction-response" , "resourceType":"Bundle", "meta":{"type":"x","entry":[1,2,3]}, "entry" : [ {"resource":{"resourceType":"Bundle","type":"document","entry":[{},{}]},"response":{"status":"201 Created","outcome":{"resourceType":"OperationOutcome"}}} ] }
`, "Bundle", "transaction-response", 1, []string{"201 Created"}, false},
		{"escapes", `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"etag":"W/\"1\"","status":"200 OK","location":"a\\"}},{"response":{"status":"201","x":"\u0022]}"}}]}`, "Bundle", "transaction-response", 2, []string{"200 OK", "201"}, false},
		{"numbers and literals", `{"resourceType":"Bundle","total":12.5e3,"entry":[{"response":{"status":"200"},"a":true,"b":null,"c":-1}],"type":"batch-response"}`, "Bundle", "batch-response", 1, []string{"200"}, false},
		{"empty entry", `{"resourceType":"Bundle","type":"transaction-response","entry":[]}`, "Bundle", "transaction-response", 0, nil, false},
		{"truncated", `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200"}}`, "Bundle", "transaction-response", 1, []string{"200"}, true},
		{"truncated in a string", `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"20`, "Bundle", "transaction-response", 1, []string{""}, true},
		{"html", `<html><body>{"resourceType":"Bundle"}</body></html>`, "", "", 0, nil, true},
		{"unbalanced", `{"resourceType":"Bundle"]`, "Bundle", "", 0, nil, true},
		{"trailing data", `{"resourceType":"Bundle"} {}`, "Bundle", "", 0, nil, true},
		{"blank", " \n", "", "", 0, nil, true},
		{"long type", `{"resourceType":"Bundle","type":"` + strings.Repeat("t", 200) + `"}`, "Bundle", "\x00", 0, nil, false},
	}
	for _, c := range cases {
		for _, step := range []int{len(c.body) + 1, 1, 7} {
			sc := bundleScan{outcomeCap: 1 << 10}
			for b := []byte(c.body); len(b) > 0; {
				n := min(step, len(b))
				sc.Write(b[:n])
				b = b[n:]
			}
			err := sc.finish()
			if (err != nil) != c.bad {
				t.Errorf("%s/%d: finish %v, want error %v", c.name, step, err, c.bad)
			}
			if sc.resourceType != c.rt || sc.typ != c.typ || sc.entries != c.entries || fmt.Sprint(sc.statuses) != fmt.Sprint(c.statuses) {
				t.Errorf("%s/%d: got %q %q %d %q", c.name, step, sc.resourceType, sc.typ, sc.entries, sc.statuses)
			}
		}
	}
	// An entry's outcome is kept whole, and cut at the cap.
	oo := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","diagnostics":"a \"b\" }]"}]}`
	body := `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201"}},{"response":{"outcome":` + oo + `,"status":"400"}}]}`
	for _, step := range []int{len(body), 1, 5} {
		sc := bundleScan{outcomeCap: 1 << 10}
		for b := []byte(body); len(b) > 0; b = b[min(step, len(b)):] {
			sc.Write(b[:min(step, len(b))])
		}
		if sc.finish() != nil || len(sc.outcomes) != 2 || sc.outcomes[0] != nil || string(sc.outcomes[1]) != oo || sc.outcomeCut[1] {
			t.Errorf("step %d: outcomes %q", step, sc.outcomes)
		}
		sc = bundleScan{outcomeCap: 20}
		for b := []byte(body); len(b) > 0; b = b[min(step, len(b)):] {
			sc.Write(b[:min(step, len(b))])
		}
		if string(sc.outcomes[1]) != oo[:20] || !sc.outcomeCut[1] {
			t.Errorf("step %d: capped outcome %q", step, sc.outcomes[1])
		}
	}
}

// BenchmarkBundleScan measures counting entries in a fax-sized base64
// string (the cost added to a streamed upload).
func BenchmarkBundleScan(b *testing.B) {
	body := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","data":"` + strings.Repeat("QUJD", 4<<20) + `"}}]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var sc bundleScan
		io.Copy(&sc, bytes.NewReader(body))
		if sc.finish() != nil || sc.entries != 1 {
			b.Fatal("bad scan")
		}
	}
}

// TestEarly413 (from the audit): an exchange that refuses a large body with
// 413 before reading it is understood over HTTP/1.1 and HTTP/2, for bodies
// in memory and streamed, as a permanent rejection with the operator's hint.
func TestEarly413(t *testing.T) {
	big := bytes.Repeat([]byte("A"), 64<<20)
	for _, h2 := range []bool{false, true} {
		ex := newExchange(t, h2)
		ex.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "<h1>413 Request Entity Too Large</h1>")
		})
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		for _, streamed := range []bool{false, true} {
			it := &queue.Item{ID: "01BIG", Body: big}
			if streamed {
				it = &queue.Item{ID: "01BIG", Size: int64(len(big)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big)), nil }}
			}
			err := s.Send(context.Background(), it)
			if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "larger than the exchange accepts") || !strings.Contains(err.Error(), "ferry queue retry 01BIG") {
				t.Errorf("http2=%v streamed=%v: %v", h2, streamed, err)
			}
		}
	}
}

// missingOK marks it as a batch whose 404 and 410 entries count as done
// (queue.AttrMissingOK: a replaced document's supersede PATCH).
func missingOK(it *queue.Item) *queue.Item {
	it.Attrs = map[string]string{queue.AttrMissingOK: "true"}
	return it
}
