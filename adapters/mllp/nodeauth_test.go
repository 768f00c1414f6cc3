package mllp

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
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

// TestHandshakeWithoutAuthenticationNotWarned: a TCP health check or port
// scanner that connects to a TLS listener and says nothing, or resets,
// logged "mllp tls handshake failed" at WARN, one per check: every few
// seconds for each load balancer, burying the warnings that matter. It
// attempted nothing, so it logs at DEBUG; a client without a certificate,
// and a sender speaking plain MLLP to the TLS port, still warn.
func TestHandshakeWithoutAuthenticationNotWarned(t *testing.T) {
	srv, cli := testTLS(t)
	s, logs := startLogged(t, Config{TLS: srv, ReadTimeout: 200 * time.Millisecond}, &recorder{})
	settled := func(handshakes int64) string {
		t.Helper()
		waitStats(t, s, func(st Stats) bool { return st.TLSHandshakes == handshakes && st.Open == 0 })
		return logs.String()
	}

	silent, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	rst, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rst.(*net.TCPConn).SetLinger(0)
	time.Sleep(20 * time.Millisecond) // accepted and in the handshake
	rst.Close()
	if l := settled(2); strings.Contains(l, "level=WARN") {
		t.Errorf("a silent and a reset connection logged a warning:\n%s", l)
	}

	noCert := cli.Clone()
	noCert.Certificates = nil
	if c, err := tls.Dial("tcp", s.Addr().String(), noCert); err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1)) // TLS 1.3: the verdict comes with the first read
		c.Close()
	}
	if l := settled(3); strings.Count(l, "level=WARN msg=\"mllp tls handshake failed\"") != 1 {
		t.Errorf("a client without a certificate: want one warning:\n%s", l)
	}

	plain, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte("\x0bMSH|^~\\&|EHR|CLINIC\r\x1c\r"))
	if l := settled(4); strings.Count(l, "level=WARN") != 2 || !strings.Contains(l, "does not speak TLS") {
		t.Errorf("plain MLLP to the TLS port: want a second warning:\n%s", l)
	}
}

// TestShutdownDuringHandshakeNotRefused: a connection still waiting for
// its ClientHello when the service stops (a load balancer's TCP check, a
// sender slow to start TLS) is closed by Shutdown. That failed no node
// authentication, yet it was reported to OnRefused (an ATNA Security
// Alert at every service stop) and logged as a failed handshake at WARN.
func TestShutdownDuringHandshakeNotRefused(t *testing.T) {
	srv, _ := testTLS(t)
	var mu sync.Mutex
	var refused []string
	s, logs := startLogged(t, Config{TLS: srv, OnRefused: func(_ netip.Addr, reason string) {
		mu.Lock()
		defer mu.Unlock()
		refused = append(refused, reason)
	}}, &recorder{})
	silent, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitStats(t, s, func(st Stats) bool { return st.Open == 1 })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 0 {
		t.Errorf("a handshake cut by Shutdown reported as a node-authentication failure: %q", refused)
	}
	if l := logs.String(); strings.Contains(l, "level=WARN") {
		t.Errorf("a handshake cut by Shutdown logged a warning:\n%s", l)
	}
}
