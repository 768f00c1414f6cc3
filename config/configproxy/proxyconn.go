package configproxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
)

// proxyAddrs are the addresses of the proxies a Transport given Apply
// was sent to (as its DialContext is asked for them: host:port, the
// port the scheme's when the URL has none), each with the proxy's name
// for messages, password redacted.
type proxyAddrs struct{ m sync.Map }

func (p *proxyAddrs) add(u *url.URL) {
	port := u.Port()
	switch {
	case port != "":
	case strings.EqualFold(u.Scheme, "http"):
		port = "80"
	case strings.EqualFold(u.Scheme, "https"):
		port = "443"
	default:
		return // socks5 from the environment: no CONNECT
	}
	addr := strings.ToLower(net.JoinHostPort(u.Hostname(), port))
	if _, ok := p.m.Load(addr); !ok {
		p.m.Store(addr, Redact(u))
	}
}

func (p *proxyAddrs) name(addr string) (string, bool) {
	if p == nil {
		return "", false
	}
	v, ok := p.m.Load(strings.ToLower(addr))
	if !ok {
		return "", false
	}
	return v.(string), true
}

// The stages of a proxyConn.
const (
	stageRequest  = iota // nothing written yet
	stageAnswer          // the request written, the proxy's answer due
	stageAnswered        // the proxy's answer to CONNECT coming
	stageTunnel          // the TLS hello written into the tunnel, the server's answer due
	stageOpen            // set up: the connection as it is
)

// proxyConn is a connection to a proxy as net/http uses it: it writes a
// CONNECT, reads the proxy's answer and then makes the TLS handshake with
// the server through the tunnel; or it writes a plain-http request (a
// CRL) and reads the answer. A proxy that closes the connection before
// it answered, or the tunnel before the server behind it sent a byte,
// left net/http's bare "unexpected EOF" or "EOF", which named neither the
// proxy nor the host, and read as an answer that never came (an outcome
// unknown) though nothing had reached the server. Such an end is an
// error naming both, wrapping no io.EOF; past the setup the connection
// is left as it is, so that net/http still tells a kept connection the
// server closed by its io.EOF.
type proxyConn struct {
	net.Conn
	proxy string

	mu     sync.Mutex
	stage  int
	target string // the CONNECT's host:port; "" for a plain-http request
}

func (c *proxyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch c.stage {
	case stageRequest:
		c.stage = stageAnswer
		if rest, ok := bytes.CutPrefix(p, []byte("CONNECT ")); ok {
			target, _, _ := bytes.Cut(rest, []byte(" "))
			c.target = string(target)
		}
	case stageAnswered:
		c.stage = stageTunnel
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *proxyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 0 {
		switch {
		case c.stage == stageAnswer && c.target != "":
			c.stage = stageAnswered
		case c.stage == stageAnswer, c.stage == stageTunnel:
			c.stage = stageOpen
		}
		return n, err
	}
	var ne net.Error
	if err == nil || c.stage == stageOpen || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout() {
		return n, err
	}
	switch {
	case c.stage == stageTunnel:
		err = fmt.Errorf("the tunnel through proxy %s to %s ended before %s answered the TLS handshake (%v): the proxy accepted the CONNECT, then the tunnel was closed, as a proxy closes it that cannot reach that host or port or does not let ferry to it; nothing was sent to it",
			c.proxy, c.target, c.target, err)
	case c.stage == stageAnswered:
		err = fmt.Errorf("proxy %s closed the connection in the middle of its answer to CONNECT %s (%v); nothing was sent to %s",
			c.proxy, c.target, err, c.target)
	case c.target != "":
		err = fmt.Errorf("proxy %s closed the connection without answering CONNECT %s (%v); nothing was sent to %s: does the proxy allow that host and port?",
			c.proxy, c.target, err, c.target)
	default:
		err = fmt.Errorf("proxy %s closed the connection without answering (%v)", c.proxy, err)
	}
	return n, err
}
