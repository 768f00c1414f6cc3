package tlstest

import (
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// Renegotiator is OpenSSL's s_server speaking TLS 1.2 with p's server
// certificate that, as IIS does for a site that requires client
// certificates without negotiating them in the handshake (netsh's
// clientcertnegotiation disabled, the default), takes a connection
// without asking for a certificate and asks for one by a renegotiation
// when told (AskCertificate). Go's own TLS server cannot renegotiate. It
// takes one connection; what the client sends shows in its output, and
// what is written to it goes to the client.
type Renegotiator struct {
	Addr string // 127.0.0.1:port

	in  io.WriteCloser
	mu  sync.Mutex
	out bytes.Buffer
	cnd *sync.Cond
}

// StartRenegotiator starts one, or skips the test without openssl, and
// stops it when the test ends.
func StartRenegotiator(t testing.TB, p pki.Paths) *Renegotiator {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl to play a server that renegotiates")
	}
	r := &Renegotiator{}
	r.cnd = sync.NewCond(&r.mu)
	cmd := exec.Command(bin, "s_server", "-tls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
		"-cert", p.ServerCert, "-key", p.ServerKey, "-CAfile", p.CA)
	cmd.Stdout, cmd.Stderr = r, r
	if r.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	re := regexp.MustCompile(`ACCEPT 127\.0\.0\.1:(\d+)\n`)
	select {
	case <-r.Seen("ACCEPT"):
	case <-time.After(10 * time.Second):
		t.Fatalf("openssl s_server did not start:\n%s", r.Output())
	}
	<-r.Seen("\n")
	m := re.FindStringSubmatch(r.Output())
	if m == nil {
		t.Fatalf("openssl s_server names no port:\n%s", r.Output())
	}
	r.Addr = "127.0.0.1:" + m[1]
	return r
}

// Write collects the server's output.
func (r *Renegotiator) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.Write(p)
	r.cnd.Broadcast()
	return len(p), nil
}

// Output is what the server printed so far, the client's data among it.
func (r *Renegotiator) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// Seen returns a channel closed once s is in the output.
func (r *Renegotiator) Seen(s string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		r.mu.Lock()
		for !strings.Contains(r.out.String(), s) {
			r.cnd.Wait()
		}
		r.mu.Unlock()
		close(ch)
	}()
	return ch
}

// AskCertificate has the server renegotiate, asking for the client's
// certificate. Once the client has sent it, "CN = <its name>" shows in
// the output.
func (r *Renegotiator) AskCertificate() { io.WriteString(r.in, "R\n") }

// Send sends s to the client; its first byte must not be one of
// s_server's commands (q, Q, r, R...).
func (r *Renegotiator) Send(s string) { io.WriteString(r.in, s) }
