package mllp

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestHandshakeWithoutAuthenticationNotRefused: a TCP health check or port
// scanner that connects to a TLS listener and says nothing (the handshake
// times out) or resets the connection attempted no authentication, so it
// is no ATNA node-authentication failure (OnRefused, a Security Alert at
// the audit repository); a client without a certificate is one.
func TestHandshakeWithoutAuthenticationNotRefused(t *testing.T) {
	srv, cli := testTLS(t)
	var mu sync.Mutex
	var refused []string
	s := start(t, Config{TLS: srv, ReadTimeout: 200 * time.Millisecond, OnRefused: func(_ netip.Addr, reason string) {
		mu.Lock()
		defer mu.Unlock()
		refused = append(refused, reason)
	}}, &recorder{})
	refusals := func(handshakes int64) []string {
		t.Helper()
		waitStats(t, s, func(st Stats) bool { return st.TLSHandshakes == handshakes && st.Open == 0 })
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), refused...)
	}

	// Connects and says nothing: the handshake times out.
	silent, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if r := refusals(1); len(r) != 0 {
		t.Errorf("a silent connection (handshake timed out) reported as a node-authentication failure: %q", r)
	}

	// Connects and resets (a load balancer's check closing with RST).
	rst, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rst.(*net.TCPConn).SetLinger(0)
	time.Sleep(20 * time.Millisecond) // accepted and in the handshake
	rst.Close()
	if r := refusals(2); len(r) != 0 {
		t.Errorf("a connection reset before a ClientHello reported as a node-authentication failure: %q", r)
	}

	// A client without a certificate fails authentication.
	noCert := cli.Clone()
	noCert.Certificates = nil
	c, err := tls.Dial("tcp", s.Addr().String(), noCert)
	if err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1)) // TLS 1.3: the verdict comes with the first read
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if r := refusals(3); len(r) != 1 {
		t.Errorf("client without a certificate: refusals %q, want one", r)
	}
}
