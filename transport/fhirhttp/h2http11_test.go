package fhirhttp

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// connListener hands the connections put in it to an http.Server.
type connListener struct {
	conns chan net.Conn
	addr  net.Addr
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *connListener) Addr() net.Addr { return l.addr }

// TestHTTP11RequiredFallsBack: an exchange that offers HTTP/2 but wants
// a client certificate only for its FHIR path, and so asks for it by a
// renegotiation, which HTTP/2 forbids, resets the request's stream with
// HTTP_1_1_REQUIRED (IIS without "negotiate client certificate" does so
// for every request): "a server might use an error (Section 5.4) of type
// HTTP_1_1_REQUIRED to request the client use a protocol that supports
// renegotiation" (RFC 7540 §9.2.1, kept by RFC 9113). net/http does not fall back, so every bundle was taken
// for an answer cut off and sent again over HTTP/2 after
// unknown_outcome_delay, forever, with nothing in the error naming the
// cause. ferry now sends it again at once over HTTP/1.1 and uses HTTP/1.1
// with that exchange from then on.
func TestHTTP11RequiredFallsBack(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var h1Requests atomic.Int64
	port, h2Requests := http11RequiredServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h1Requests.Add(1)
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, txResponse)
	}))
	s := newSink(t, Config{URL: "https://localhost:" + port + "/fhir/R4", TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}})
	for _, id := range []string{"01H11A", "01H11B"} {
		if err := s.Send(context.Background(), item(id)); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}
	if h1Requests.Load() != 2 || h2Requests.Load() != 1 {
		t.Errorf("%d requests over HTTP/2, %d over HTTP/1.1; want the first over HTTP/2, refused, and both bundles over HTTP/1.1", h2Requests.Load(), h1Requests.Load())
	}
	s.Close(context.Background())
}

// http11RequiredServer serves handler over HTTP/1.1 on a port of
// localhost (its certificate p's, asking for a client certificate of p's
// CA) and resets every HTTP/2 request's stream with HTTP_1_1_REQUIRED,
// as IIS without "negotiate client certificate" does; it returns the
// port and the count of requests made over HTTP/2.
func http11RequiredServer(t *testing.T, p pki.Paths, handler http.Handler) (string, *atomic.Int64) {
	t.Helper()
	tc, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc.NextProtos = []string{"h2", "http/1.1"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	h1 := &connListener{conns: make(chan net.Conn), addr: ln.Addr(), done: make(chan struct{})}
	h2Requests := new(atomic.Int64)
	srv := &http.Server{Handler: handler}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(h1) })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tlsConn := c.(*tls.Conn)
			if tlsConn.Handshake() != nil {
				c.Close()
				continue
			}
			if tlsConn.ConnectionState().NegotiatedProtocol != "h2" {
				select {
				case h1.conns <- c:
				case <-h1.done:
					c.Close()
				}
				continue
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
					return
				}
				fr := http2.NewFramer(c, c)
				if fr.WriteSettings() != nil {
					return
				}
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							fr.WriteSettingsAck()
						}
					case *http2.HeadersFrame:
						h2Requests.Add(1)
						fr.WriteRSTStream(f.StreamID, http2.ErrCodeHTTP11Required)
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		h1.Close()
		srv.Close()
		wg.Wait()
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, h2Requests
}
