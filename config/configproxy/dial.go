package configproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Dial opens a connection to target (host:port) through an HTTP CONNECT
// tunnel of proxy (RFC 9110 §9.3.6), sending the proxy's user and password
// as Basic credentials, as net/http's Transport does. It is for checks
// that need the raw connection (the doctor's TLS handshake); HTTP clients
// use Apply. A refusal is a *RefusedError; a proxy that cannot be reached
// is an error naming it (password redacted).
func Dial(ctx context.Context, proxy *url.URL, target string) (net.Conn, error) {
	addr := proxy.Host
	if proxy.Port() == "" {
		port := "80"
		if proxy.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(proxy.Hostname(), port)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to proxy %s: %w", Redact(proxy), err)
	}
	if proxy.Scheme == "https" {
		tc := tls.Client(c, &tls.Config{ServerName: proxy.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with proxy %s: %w", Redact(proxy), err)
		}
		c = tc
	}
	// The deadline bounds the CONNECT exchange only; the tunnel then
	// belongs to the caller.
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(time.Minute))
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: target}, Host: target, Header: http.Header{}}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("send CONNECT to proxy %s: %w", Redact(proxy), err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read the answer of proxy %s to CONNECT %s: %w", Redact(proxy), target, err)
	}
	resp.Body.Close()
	if err := checkConnectResponse(ctx, proxy, req, resp); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// The tunnel's first bytes came with the answer.
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads what the CONNECT answer's reader holds first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
