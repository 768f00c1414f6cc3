package fhirhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"M1"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:oid:1.2.3|M1"}}]}`

// txResponse is a proper answer to bundle.
const txResponse = `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created","location":"Patient/1/_history/1"}}]}`

// answerOK replies code with a proper transaction-response.
func answerOK(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(code)
		io.WriteString(w, txResponse)
	}
}

type exchange struct {
	srv   *httptest.Server
	pki   pki.Paths
	conns atomic.Int64

	mu       sync.Mutex
	handler  http.HandlerFunc
	requests []*http.Request
	bodies   []string
}

// newExchange starts an HTTPS server that requires client certificates from
// a fresh demo CA, like an exchange does.
func newExchange(t testing.TB, http2 bool) *exchange {
	t.Helper()
	return newExchangeAt(t, http2, "")
}

// newExchangeAt is newExchange listening on ip (127.0.0.1 when empty).
func newExchangeAt(t testing.TB, http2 bool, ip string) *exchange {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ex := &exchange{pki: p}
	ex.srv = tlstest.NewUnstartedServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ex.mu.Lock()
		ex.requests = append(ex.requests, r)
		ex.bodies = append(ex.bodies, string(b))
		h := ex.handler
		ex.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, txResponse)
			return
		}
		h(w, r)
	}))
	ex.srv.EnableHTTP2 = http2
	if ip != "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ex.srv.Listener.Close()
		ex.srv.Listener = ln
	}
	ex.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ex.conns.Add(1)
		}
	}
	ex.srv.StartTLS()
	t.Cleanup(ex.srv.Close)
	return ex
}

func (ex *exchange) set(h http.HandlerFunc) {
	ex.mu.Lock()
	ex.handler = h
	ex.mu.Unlock()
}

func (ex *exchange) url() string {
	return strings.Replace(ex.srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4"
}

func (ex *exchange) clientTLS() configtls.ClientConfig {
	return configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey}
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func item(id string) *queue.Item {
	return &queue.Item{ID: id, Body: []byte(bundle)}
}

// bundleItem is an item holding a Bundle of type typ with n entries.
func bundleItem(id, typ string, n int) *queue.Item {
	var entries []string
	for i := range n {
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"urn:uuid:%d","resource":{"resourceType":"Observation","status":"final","note":[{"text":"a \\\"quoted\\\" [entry] {%d}"}]},"request":{"method":"POST","url":"Observation"}}`, i, i))
	}
	return &queue.Item{ID: id, Body: []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`)}
}

func TestDeliverySuccess(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			ex := newExchange(t, h2)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
			for i, code := range []int{201, 200} {
				ex.set(answerOK(code))
				if err := s.Send(context.Background(), item(fmt.Sprintf("01ID%d", i))); err != nil {
					t.Fatalf("status %d: %v", code, err)
				}
			}
			ex.mu.Lock()
			defer ex.mu.Unlock()
			r := ex.requests[0]
			if r.Method != http.MethodPost || r.URL.Path != "/fhir/R4" {
				t.Errorf("request %s %s", r.Method, r.URL.Path)
			}
			if r.Header.Get("Content-Type") != MediaType+"; charset=utf-8" || r.Header.Get("Accept") != MediaType || r.Header.Get("X-Request-Id") != "01ID0" || r.Header.Get("Prefer") != "return=minimal" {
				t.Errorf("headers %v", r.Header)
			}
			if ex.bodies[0] != bundle {
				t.Errorf("body %q", ex.bodies[0])
			}
			if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "ferry demo client" {
				t.Errorf("client certificate not presented")
			}
			wantProto := 1
			if h2 {
				wantProto = 2
			}
			if r.ProtoMajor != wantProto {
				t.Errorf("protocol %s", r.Proto)
			}
		})
	}
}

func TestStatusClassification(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	outcome := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"Patient.name: minimum required = 1 (for Jane Roe)"}]}`
	cases := []struct {
		name       string
		code       int
		header     map[string]string
		body       string
		permanent  bool
		retryAfter time.Duration // minimum expected
		inError    string
	}{
		{"503 retry-after seconds", 503, map[string]string{"Retry-After": "7"}, "", false, 7 * time.Second, "503"},
		{"429 retry-after date", 429, map[string]string{"Retry-After": future}, "", false, 60 * time.Second, "429"},
		{"408", 408, nil, "", false, 0, "408"},
		{"500", 500, nil, "<html><body><h1>Internal error</h1></body></html>", false, 0, "Internal error"},
		{"502", 502, nil, "", false, 0, "502"},
		{"401 credentials", 401, nil, "", false, 0, "401"},
		{"302 redirect", 302, map[string]string{"Location": "https://elsewhere.example/fhir"}, "", false, 0, "elsewhere.example"},
		{"400 outcome", 400, map[string]string{"Content-Type": MediaType}, outcome, true, 0, "minimum required"},
		{"422", 422, nil, outcome, true, 0, "required"},
		{"404 outcome", 404, map[string]string{"Content-Type": MediaType}, outcome, true, 0, "minimum required"},
		{"501 outcome", 501, nil, outcome, true, 0, "501"},
		{"425 too early", 425, nil, "", false, 0, "425"},
	}
	for _, tc := range cases {
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range tc.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(tc.code)
			io.WriteString(w, tc.body)
		})
		err := s.Send(context.Background(), item("01X"))
		if err == nil {
			t.Errorf("%s: delivered", tc.name)
			continue
		}
		if queue.IsPermanent(err) != tc.permanent {
			t.Errorf("%s: permanent=%v, want %v (%v)", tc.name, queue.IsPermanent(err), tc.permanent, err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tc.code {
			t.Errorf("%s: not a StatusError with code %d: %v", tc.name, tc.code, err)
		}
		ra, _ := transport.RetryAfterOf(err)
		if ra < tc.retryAfter || (tc.retryAfter == 0 && ra != 0) || ra > 2*time.Minute {
			t.Errorf("%s: retry after %v, want ≥ %v", tc.name, ra, tc.retryAfter)
		}
		if !strings.Contains(err.Error(), tc.inError) {
			t.Errorf("%s: %q does not contain %q", tc.name, err, tc.inError)
		}
		if strings.Contains(transport.Summary(err), "Jane Roe") {
			t.Errorf("%s: summary leaks receiver text: %s", tc.name, transport.Summary(err))
		}
		if configtls.Diagnose(err) != nil {
			t.Errorf("%s: diagnosed as TLS problem", tc.name)
		}
	}
}

func TestTransactionResponseEntries(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	respond := func(body string) {
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(200)
			io.WriteString(w, body)
		})
	}
	two := func(id, typ string) *queue.Item { return bundleItem(id, typ, 2) }
	respond(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"200"}}]}`)
	if err := s.Send(context.Background(), two("a", "transaction")); err != nil {
		t.Fatalf("all 2xx: %v", err)
	}
	respond(`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"422 Unprocessable Entity","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"bad code"}]}}}]}`)
	err := s.Send(context.Background(), two("b", "batch"))
	var se *StatusError
	if !queue.IsPermanent(err) || !errors.As(err, &se) || se.Entry != 1 || se.Code != 422 || !strings.Contains(err.Error(), "bad code") {
		t.Fatalf("422 entry: %v", err)
	}
	if b, _ := queue.OutcomeOf(err); !strings.Contains(string(b), `"bad code"`) {
		t.Errorf("dead letter outcome %q, want the entry's OperationOutcome", b)
	}
	respond(`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400"}},{"response":{"status":"503 Service Unavailable"}}]}`)
	err = s.Send(context.Background(), two("c", "batch"))
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("a retryable entry must make the bundle retryable: %v", err)
	}
	respond(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201"}},{"response":{"status":"412 Precondition Failed","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches"}]}}}]}`)
	err = s.Send(context.Background(), two("01DUP", "transaction"))
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "several Observation resources at the exchange match") || !strings.Contains(err.Error(), "ferry queue retry 01DUP") {
		t.Fatalf("412 entry: %v", err)
	}
}

func TestTLSFailuresAreRetryableAndExplained(t *testing.T) {
	ex := newExchange(t, false)
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tls  configtls.ClientConfig
		want configtls.Problem
	}{
		{"wrong client cert", configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey}, configtls.ClientCertRejected},
		{"no client cert", configtls.ClientConfig{CAFile: ex.pki.CA}, configtls.ClientCertRejected},
		{"hostname mismatch", configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey, ServerName: "hie.example.org"}, configtls.HostnameMismatch},
		{"unknown authority", configtls.ClientConfig{CAFile: other.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey}, configtls.UnknownAuthority},
	}
	for _, tc := range cases {
		s := newSink(t, Config{URL: ex.url(), TLS: tc.tls})
		err := s.Send(context.Background(), item("01TLS"))
		if err == nil {
			t.Fatalf("%s: delivered", tc.name)
		}
		if queue.IsPermanent(err) {
			t.Errorf("%s: permanent; a certificate problem must never dead-letter", tc.name)
		}
		var hs *configtls.HandshakeError
		if !errors.As(err, &hs) || hs.Problem != tc.want {
			t.Errorf("%s: %v, want problem %q", tc.name, err, tc.want)
		}
		t.Logf("%s: %v", tc.name, err)
	}
	ex.mu.Lock()
	n := len(ex.requests)
	ex.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests reached the handler through failed handshakes", n)
	}
}

func TestKeepAliveReusesConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			ex := newExchange(t, h2)
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", MediaType)
				w.WriteHeader(201)
				io.WriteString(w, txResponse)
			})
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
			for i := range 25 {
				if err := s.Send(context.Background(), item(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			// Error answers must not cost the connection either.
			ex.set(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503); io.WriteString(w, "busy") })
			for range 5 {
				if err := s.Send(context.Background(), item("x")); err == nil {
					t.Fatal("503 delivered")
				}
			}
			if n := ex.conns.Load(); n != 1 {
				t.Errorf("%d connections for 30 sequential requests, want 1", n)
			}
		})
	}
}

func TestNotConnectedAndNetworkErrors(t *testing.T) {
	s, err := New(Config{URL: "https://localhost:1/fhir"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), item("x")); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send before connect: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s = newSink(t, Config{URL: "https://" + addr + "/fhir", Timeout: 5 * time.Second})
	err = s.Send(context.Background(), item("x"))
	if err == nil || queue.IsPermanent(err) || configtls.Diagnose(err) != nil {
		t.Fatalf("connection refused: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), item("x")); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send after close: %v", err)
	}
	// A bad client key pair fails Connect with a plain message.
	s, _ = New(Config{URL: "https://localhost/fhir", TLS: configtls.ClientConfig{CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key"}}, nil)
	if err := s.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("connect with missing files: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := map[string]string{
		"https://hie.example.org/fhir/R4":  "",
		"http://127.0.0.1:8080/fhir":       "",
		"http://localhost/fhir":            "",
		"http://hie.example.org/fhir":      "must use https",
		"":                                 "url: required",
		"ftp://x/":                         "scheme",
		"https://user:pw@hie.example/":     "credentials",
		"https:///nohost":                  "no host",
		"https://hie.example.org/fhir?a=1": "has a query",
		"https://hie.example.org/fhir#top": "has a fragment",
	}
	for u, want := range cases {
		err := Config{URL: u}.Validate()
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", u, err, want)
		}
	}
	err := Config{URL: "https://x/", TLS: configtls.ClientConfig{CertFile: "c"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file: set but key_file is empty") {
		t.Errorf("tls path: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-3":                            0,
		"120":                           2 * time.Minute,
		"soon":                          0,
		"999999999":                     transport.MaxRetryAfter,
		"99999999999999999999":          transport.MaxRetryAfter, // past int64
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	}
	for v, want := range cases {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// BenchmarkSend measures one bundle POST over an established mTLS
// keep-alive connection (the steady state of a busy clinic).
func BenchmarkSend(b *testing.B) {
	for _, h2 := range []bool{false, true} {
		b.Run(fmt.Sprintf("http2=%v", h2), func(b *testing.B) {
			ex := newExchange(b, h2)
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", MediaType)
				w.WriteHeader(200)
				io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`)
			})
			s, err := New(Config{URL: ex.url(), TLS: ex.clientTLS()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			s.Connect(context.Background())
			defer s.Close(context.Background())
			body := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Repeat(`{"fullUrl":"urn:uuid:00000000-0000-0000-0000-000000000000","resource":{"resourceType":"Observation","status":"final"},"request":{"method":"POST","url":"Observation"}},`, 25) + `{}]}`)
			it := &queue.Item{ID: "01BENCH", Body: body}
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for b.Loop() {
				if err := s.Send(context.Background(), it); err != nil {
					b.Fatal(err)
				}
				ex.mu.Lock()
				ex.requests, ex.bodies = ex.requests[:0], ex.bodies[:0]
				ex.mu.Unlock()
			}
			b.StopTimer()
			b.ReportMetric(float64(ex.conns.Load()), "conns")
		})
	}
}
