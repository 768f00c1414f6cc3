package fhirhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/net/http2"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
)

// h2CutOff starts an HTTP/2 exchange (mutual TLS, the demo PKI) that
// takes a request whole and then, instead of answering, does cut to the
// connection (a raw frame writer, since net/http's server cannot be made
// to), and returns a sink for it.
func h2CutOff(t *testing.T, cut func(fr *http2.Framer, stream uint32)) *Sink {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc.NextProtos = []string{"h2"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
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
			if f.Header().StreamID != 0 && f.Header().Flags.Has(http2.FlagDataEndStream) {
				cut(fr, f.Header().StreamID) // the request is whole
				return
			}
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return newSink(t, Config{URL: "https://localhost:" + port + "/fhir/R4", TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}})
}

// TestHTTP2CutOffIsAnUnknownOutcome: an HTTP/2 exchange that took the
// bundle and then ended it without an answer may have applied it, as one
// whose connection closed does over HTTP/1.1 (unexpected EOF): a GOAWAY
// whose last stream identifier counts the request ("the highest-numbered
// stream identifier for which the sender of the GOAWAY frame might have
// taken some action on or might yet take action on", RFC 9113 §6.8)
// followed by the connection's close, as a server shut down mid-request
// does; or the request's stream reset with a code other than
// REFUSED_STREAM, which alone says it was closed "prior to any
// processing" (§8.7). The error must read as such (io.ErrUnexpectedEOF),
// so that the dispatcher waits unknown_outcome_delay before sending it
// again; net/http's own errors for them were taken for an answer and the
// bundle re-sent after the ordinary backoff, racing the first attempt.
func TestHTTP2CutOffIsAnUnknownOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(fr *http2.Framer, stream uint32)
	}{
		{"goaway then close", func(fr *http2.Framer, stream uint32) { fr.WriteGoAway(stream, http2.ErrCodeNo, nil) }},
		{"stream reset", func(fr *http2.Framer, stream uint32) {
			fr.WriteRSTStream(stream, http2.ErrCodeInternal)
			for { // keep the connection until the client closes it
				if _, err := fr.ReadFrame(); err != nil {
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h2CutOff(t, tc.cut)
			err := s.Send(context.Background(), item("01CUT"))
			if err == nil || queue.IsPermanent(err) {
				t.Fatalf("%v, want a retryable error", err)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%v does not read as an answer cut off (outcome unknown)", err)
			}
			s.Close(context.Background())
		})
	}
}
