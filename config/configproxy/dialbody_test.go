package configproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestDialIgnoresLengthOfConnectAnswer: the tunnel starts right after the
// header of a 200 answer to CONNECT, whatever Content-Length or
// Transfer-Encoding it carries (RFC 9110 §9.3.6: a client MUST ignore
// them). Dial read that many bytes of the tunnel as the answer's body: the
// first bytes of the server behind the proxy were lost and, as a TLS
// server sends nothing before the client's hello, the doctor's dial waited
// for its deadline and its handshake then failed, while delivery (net/http)
// went through the same proxy.
func TestDialIgnoresLengthOfConnectAnswer(t *testing.T) {
	const banner = "SSH-2.0-behind-the-proxy\r\n"
	for _, answer := range []string{
		"HTTP/1.1 200 Connection established\r\nContent-Length: 4\r\n\r\n",
		"HTTP/1.1 200 Connection established\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			// The answer, then the server behind the proxy speaking
			// first, and the end of the tunnel.
			io.WriteString(c, answer+banner)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pu, _ := url.Parse("http://" + ln.Addr().String())
		c, err := Config{}.Dial(ctx, pu, "hie.example.org:22")
		if err != nil {
			t.Fatalf("%q: %v", answer, err)
		}
		got := make([]byte, len(banner))
		_, err = io.ReadFull(c, got)
		c.Close()
		if err != nil || string(got) != banner {
			t.Errorf("answer %q: the tunnel began with %q (%v), want %q", answer, got, err, banner)
		}
	}
}
