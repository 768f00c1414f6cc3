package configproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProxyClosesBeforeAnswering: a proxy that takes the CONNECT and
// closes the connection without a word (as one does that drops what its
// rules do not allow), or answers 200 and then closes the tunnel before
// the server behind it said anything (it could not reach it), failed a
// request with net/http's bare "unexpected EOF" or "EOF", which named
// neither the proxy nor the host and read as an answer that never came.
func TestProxyClosesBeforeAnswering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string // what the proxy writes before it closes
		want   string
	}{
		{"no answer", "", "closed the connection without answering CONNECT hie.example.org:443"},
		{"half an answer", "HTTP/1.1 200 Conn", "closed the connection in the middle of its answer to CONNECT hie.example.org:443"},
		{"tunnel closed", "HTTP/1.1 200 Connection established\r\n\r\n", "the tunnel through proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, tc.answer)
				if tc.answer != "" && strings.HasSuffix(tc.answer, "\r\n\r\n") {
					// The client's TLS hello comes into the tunnel.
					br.ReadByte()
				}
			}()
			tr := &http.Transport{}
			Config{URL: URL("http://ferry:" + secret + "@" + ln.Addr().String())}.Apply(tr)
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			_, err = client.Get("https://hie.example.org/fhir/metadata")
			<-done
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "proxy http://ferry:[REDACTED]@"+ln.Addr().String()) ||
				!strings.Contains(msg, "hie.example.org:443") || strings.Contains(msg, secret) {
				t.Errorf("error %q, want it to name the proxy (password redacted) and hie.example.org:443 and say %q", msg, tc.want)
			}
			// Nothing reached the exchange: no answer is missing.
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %q reads as an answer that never came", msg)
			}
		})
	}
}
