package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
)

// TestStatusRefusesForeignHost: the running status server answers a
// request whose Host is not its own (a DNS-rebinding page's) with 421, and
// serves its own address and the configured names.
func TestStatusRefusesForeignHost(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := parseConfig(t, `
data_dir: %q
status:
  listen: %q
  allowed_hosts: [ferry.clinic.lan]
`, filepath.Join(dir, "data"), addr)
	gw := runGateway(t, cfg)
	_, port, _ := net.SplitHostPort(gw.statusAddr.String())
	for host, want := range map[string]int{
		"":                                http.StatusOK, // the address dialled
		"localhost:" + port:               http.StatusOK,
		"ferry.clinic.lan:" + port:        http.StatusOK,
		"rebind.attacker.example:" + port: http.StatusMisdirectedRequest,
	} {
		for _, path := range []string{"/", "/api/status", "/metrics", "/healthz"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
			if host != "" {
				req.Host = host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("Host %q %s: %s, want %d", host, path, resp.Status, want)
			}
		}
	}
	if _, err := config.Parse("bad", []byte("status:\n  listen: 127.0.0.1:8089\n  allowed_hosts: ['http://x/']\n")); err == nil {
		t.Error("status.allowed_hosts accepted a URL")
	}
}

// TestCertificateMetrics: every configured certificate has
// ferry_certificate_unusable, 1 when its file cannot be read or its key
// does not match it, and its expiry only when that is the certificate in
// use. Before, a broken pair simply had no metric, which an alert on the
// expiry never notices.
func TestCertificateMetrics(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	writeMetrics(&b, ops.Status{Now: now, Certificates: []ops.CertStatus{
		{Use: "exchange client certificate", NotAfter: now.Add(48 * time.Hour)},
		{Use: "audit client certificate", NotAfter: now.Add(time.Hour), Error: "private key does not match; a running gateway keeps the certificate it loaded before"},
		{Use: "exchange CA", Error: "open ca.pem: no such file or directory"},
	}})
	m := b.String()
	for _, want := range []string{
		`ferry_certificate_unusable{use="exchange client certificate"} 0`,
		`ferry_certificate_unusable{use="audit client certificate"} 1`,
		`ferry_certificate_unusable{use="exchange CA"} 1`,
		fmt.Sprintf(`ferry_certificate_expiry_timestamp_seconds{use="exchange client certificate"} %d`, now.Add(48*time.Hour).Unix()),
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, `ferry_certificate_expiry_timestamp_seconds{use="audit client certificate"}`) {
		t.Errorf("/metrics gives the broken pair's file's expiry, not the certificate in use")
	}
}

// TestStatusSlowBodyDoesNotHoldStop: a local process that sends a request
// with a body it never finishes (Content-Length 10, one byte sent) gets an
// answer at once, and the gateway's stop does not wait for it. Before, the
// server read the rest of the body after the answer, with no time limit:
// the connection stayed active, the status server's Shutdown, which the
// gateway's stop waits for first, waited for it until the stop's deadline,
// and the sources, delivery and the audit trail were then stopped with
// that deadline spent.
func TestStatusSlowBodyDoesNotHoldStop(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := parseConfig(t, `
data_dir: %q
status:
  listen: %q
`, filepath.Join(dir, "data"), addr)
	gw := runGateway(t, cfg)
	for _, path := range []string{"/healthz", "/api/status", "/api/ops/deadletters/x/retry"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\nx", path, addr)
		// A guard only: the answer comes at once, or (before) never.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("POST %s with a body not finished: no answer: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with a body: %s, want 413", path, resp.Status)
		}
	}
	// Another connection, whose request the stop finds half read.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\nx", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a guard
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Errorf("stop with a request body being sent slowly: %v", err)
	}
}

// TestStatusIdleConnectionClosed: a kept-alive connection to the status
// listener that carries no further request is closed by the gateway after
// statusIdleTimeout. Before, it stayed open for as long as the client
// kept it (no idle limit), a descriptor each.
func TestStatusIdleConnectionClosed(t *testing.T) {
	old := statusIdleTimeout
	statusIdleTimeout = 300 * time.Millisecond
	t.Cleanup(func() { statusIdleTimeout = old })
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := parseConfig(t, `
data_dir: %q
status:
  listen: %q
`, filepath.Join(dir, "data"), addr)
	runGateway(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A guard only: the close comes after the idle limit, or (before) never.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle kept-alive connection: read %d bytes, %v; want it closed by the gateway (EOF)", n, err)
	}
}
