// Package proxytest runs a small, real HTTP CONNECT proxy on loopback for
// the tests of ferry's outbound clients: it parses each CONNECT with
// net/http's ReadRequest, checks Basic credentials when it has some
// (answering 407), dials the target, answers 200 and copies both ways.
// It counts the tunnels it opened, so a test can tell that a client went
// through it. With Options.TLS it is an https:// proxy: the client's
// connection to the proxy itself is TLS, the CONNECT inside it.
package proxytest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configure a Proxy; the zero value admits everyone.
type Options struct {
	// User and Password, when User is set, are the Basic credentials
	// every CONNECT must carry; others are answered 407.
	User, Password string
	// Hosts maps host names to the addresses the proxy dials for them, so
	// that a test can name its loopback server by a name only the proxy
	// resolves (httpproxy never proxies loopback addresses or localhost).
	Hosts map[string]string
	// Deny, when set, answers 403 to the CONNECTs it returns true for.
	Deny func(target string) bool
	// Challenge, when set, replaces the Proxy-Authenticate challenges of
	// a 407 (Basic realm="proxytest"): NTLM and Negotiate, say, as a
	// proxy that signs Windows accounts in offers. Without Basic among
	// them, no Basic credentials are accepted.
	Challenge []string
	// TLS, when set, makes it an https:// proxy: it accepts TLS with this
	// configuration (its certificate; tls.RequestClientCert lets a test
	// see whether a client offered a certificate to the proxy, which
	// ClientCerts counts).
	TLS *tls.Config
}

// Proxy is a running CONNECT proxy.
type Proxy struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string
	opts Options
	ln   net.Listener

	tunnels     atomic.Int64
	refused     atomic.Int64
	clientCerts atomic.Int64
	mu          sync.Mutex
	conns       map[net.Conn]struct{}
	wg          sync.WaitGroup
}

// New starts a proxy on 127.0.0.1:0; it stops when the test ends.
func New(t testing.TB, opts Options) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), opts: opts, ln: ln, conns: map[net.Conn]struct{}{}}
	if opts.TLS != nil {
		p.ln = tls.NewListener(ln, opts.TLS)
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's URL with the configured credentials.
func (p *Proxy) URL() string { return p.URLWith(p.opts.User, p.opts.Password) }

// URLWith is the proxy's URL with the given credentials (none when user
// is empty).
func (p *Proxy) URLWith(user, password string) string {
	u := url.URL{Scheme: "http", Host: p.Addr}
	if p.opts.TLS != nil {
		u.Scheme = "https"
	}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// Tunnels is how many tunnels the proxy opened.
func (p *Proxy) Tunnels() int { return int(p.tunnels.Load()) }

// Refused is how many CONNECTs it refused (407, 403, 502).
func (p *Proxy) Refused() int { return int(p.refused.Load()) }

// ClientCerts is how many TLS connections to an https:// proxy presented
// a client certificate to the proxy itself (not through a tunnel).
func (p *Proxy) ClientCerts() int { return int(p.clientCerts.Load()) }

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

// track registers c for close; false once the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	c.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) handle(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if tc, ok := c.(*tls.Conn); ok {
		if tc.Handshake() != nil {
			return
		}
		if len(tc.ConnectionState().PeerCertificates) > 0 {
			p.clientCerts.Add(1)
		}
	}
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if p.opts.User != "" && !(p.basicOffered() && p.authorized(req.Header.Get("Proxy-Authorization"))) {
		p.refused.Add(1)
		challenge := p.opts.Challenge
		if challenge == nil {
			challenge = []string{`Basic realm="proxytest"`}
		}
		var sb strings.Builder
		for _, ch := range challenge {
			sb.WriteString("Proxy-Authenticate: " + ch + "\r\n")
		}
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"+sb.String()+"Content-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	target := req.Host
	if p.opts.Deny != nil && p.opts.Deny(target) {
		p.refused.Add(1)
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	addr := target
	if host, port, err := net.SplitHostPort(target); err == nil {
		if ip, ok := p.opts.Hosts[host]; ok {
			addr = net.JoinHostPort(ip, port)
		}
	}
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		p.refused.Add(1)
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	p.tunnels.Add(1)
	done := make(chan struct{}, 2)
	go func() {
		// What the client sent after the CONNECT may already sit in br.
		io.Copy(up, br)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, up)
		done <- struct{}{}
	}()
	<-done
	c.Close()
	up.Close()
	<-done
}

// basicOffered reports whether the proxy's challenges offer Basic.
func (p *Proxy) basicOffered() bool {
	if p.opts.Challenge == nil {
		return true
	}
	for _, ch := range p.opts.Challenge {
		if scheme, _, _ := strings.Cut(ch, " "); strings.EqualFold(scheme, "Basic") {
			return true
		}
	}
	return false
}

func (p *Proxy) authorized(h string) bool {
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	return err == nil && string(b) == p.opts.User+":"+p.opts.Password
}
