package configproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
)

// dial opens a connection to target (host:port) through an HTTP CONNECT
// tunnel of proxy (RFC 9110 §9.3.6), sending the proxy's user and password
// as Basic credentials, as net/http's Transport does; an https proxy's
// TLS is dialTLS's, as Apply's. A refusal is a *RefusedError; a proxy
// that cannot be reached is an error naming it (password redacted).
func dial(ctx context.Context, proxy *url.URL, target, caFile string) (net.Conn, error) {
	addr := proxy.Host
	if proxy.Port() == "" {
		port := "80"
		if proxy.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(proxy.Hostname(), port)
	}
	var d net.Dialer
	var c net.Conn
	var err error
	if strings.EqualFold(proxy.Scheme, "https") {
		c, err = dialTLS(ctx, d.DialContext, "tcp", &url.URL{Scheme: "https", Host: addr}, caFile)
		if configtls.Diagnose(err) != nil || errors.As(err, new(*configtls.FilesError)) {
			return nil, err // names the proxy already
		}
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to proxy %s: %w", Redact(proxy), err)
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
	// The answer is read through a bound, as net/http's Transport reads
	// it: a header without end filled the memory until the deadline.
	lr := &io.LimitedReader{R: c, N: maxConnectAnswer}
	br := bufio.NewReader(lr)
	resp, err := http.ReadResponse(br, req)
	if err != nil && lr.N == 0 {
		err = fmt.Errorf("its answer is longer than %d MB", maxConnectAnswer>>20)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read the answer of proxy %s to CONNECT %s: %w", Redact(proxy), target, err)
	}
	// The body is neither read nor closed: the tunnel starts right after
	// the header, and a Content-Length or Transfer-Encoding of a 200 is
	// to be ignored (RFC 9110 §9.3.6); closing it read that many bytes
	// of the tunnel, and waited for them from a TLS server, which sends
	// nothing first. A refusal's body goes with the connection.
	if err := checkConnectResponse(ctx, proxy, req, resp); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// The tunnel's first bytes came with the answer; the rest is
		// read from c, past the bound.
		first, _ := br.Peek(br.Buffered())
		return &bufferedConn{Conn: c, r: io.MultiReader(bytes.NewReader(first), c)}, nil
	}
	return c, nil
}

// maxConnectAnswer bounds the header of a proxy's answer to CONNECT, as
// net/http's Transport does by default (MaxResponseHeaderBytes).
const maxConnectAnswer = 10 << 20

// bufferedConn reads what the CONNECT answer's reader holds first.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
