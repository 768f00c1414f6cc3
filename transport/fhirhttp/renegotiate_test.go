package fhirhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// watched collects a process's output and tells when a text shows in it.
type watched struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
}

func newWatched() *watched {
	w := &watched{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.cond.Broadcast()
	return len(p), nil
}

// seen returns a channel closed once s is in the output.
func (w *watched) seen(s string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		w.mu.Lock()
		for !strings.Contains(w.buf.String(), s) {
			w.cond.Wait()
		}
		w.mu.Unlock()
		close(ch)
	}()
	return ch
}

func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// renegotiatingExchange is OpenSSL's s_server speaking TLS 1.2 that, as
// IIS does for a site that requires client certificates without
// negotiating them in the handshake (netsh's clientcertnegotiation
// disabled, the default), takes the connection without asking for a
// certificate and asks for one by a renegotiation once the request has
// come. Commands and the answer go to its standard input.
type renegotiatingExchange struct {
	url   string
	pki   pki.Paths
	in    io.Writer
	out   *watched
	close func()
}

func newRenegotiatingExchange(t *testing.T) *renegotiatingExchange {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl to play an exchange that renegotiates")
	}
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "s_server", "-tls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
		"-cert", p.ServerCert, "-key", p.ServerKey, "-CAfile", p.CA)
	out := newWatched()
	cmd.Stdout, cmd.Stderr = out, out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Cleanup(stop)
	select {
	case <-out.seen("ACCEPT"):
	case <-time.After(10 * time.Second):
		t.Fatalf("openssl s_server did not start:\n%s", out)
	}
	<-out.seen("\n") // the whole ACCEPT line
	m := regexp.MustCompile(`ACCEPT 127\.0\.0\.1:(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("openssl s_server names no port:\n%s", out)
	}
	return &renegotiatingExchange{url: "https://localhost:" + m[1] + "/fhir/R4", pki: p, in: in, out: out, close: stop}
}

// TestRenegotiationForClientCertificate: an exchange that asks for
// ferry's client certificate by a TLS 1.2 renegotiation once the request
// has come (IIS without "negotiate client certificate", and other servers
// that require a certificate for some paths only) had every bundle fail
// with "local error: tls: no renegotiation", Go refusing renegotiation
// unless told otherwise; ferry now accepts one renegotiation a connection
// (tls.RenegotiateOnceAsClient, which keeps the server's certificate
// from changing) and the bundle is delivered with the certificate.
func TestRenegotiationForClientCertificate(t *testing.T) {
	ex := newRenegotiatingExchange(t)
	s := newSink(t, Config{URL: ex.url, TLS: configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey}})
	errc := make(chan error, 1)
	go func() { errc <- s.Send(context.Background(), item("01RENEG")) }()
	select {
	case <-ex.out.seen(bundle):
	case err := <-errc:
		t.Fatalf("send ended before the request came: %v\n%s", err, ex.out)
	case <-time.After(10 * time.Second):
		t.Fatalf("no request came:\n%s", ex.out)
	}
	io.WriteString(ex.in, "R\n") // renegotiate, asking for the client certificate
	select {
	case <-ex.out.seen("CN = ferry demo client"): // s_server names the certificate it verifies
	case err := <-errc:
		t.Fatalf("the exchange asked for ferry's certificate after the handshake: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("no client certificate came:\n%s", ex.out)
	}
	fmt.Fprintf(ex.in, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", MediaType, len(txResponse), txResponse)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("send: %v\n%s", err, ex.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("send did not end:\n%s", ex.out)
	}
}
