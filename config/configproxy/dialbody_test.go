package configproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// oneConnectProxy listens on loopback for one connection, reads its
// CONNECT request and hands the connection to answer, which writes what
// the proxy says; it returns the address.
func oneConnectProxy(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		answer(c)
	}()
	return ln.Addr().String()
}

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
		addr := oneConnectProxy(t, func(c net.Conn) {
			// The answer, then the server behind the proxy speaking
			// first, and the end of the tunnel.
			io.WriteString(c, answer+banner)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pu, _ := url.Parse("http://" + addr)
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

// TestDialBoundsConnectAnswer: the proxy's answer to CONNECT is read up to
// a bound, as net/http's Transport reads it (10 MB): Dial read a header of
// any length into memory, so that a proxy (or something else at its
// address) sending header lines without end filled the memory until the
// deadline. A longer answer is an error naming the proxy.
func TestDialBoundsConnectAnswer(t *testing.T) {
	addr := oneConnectProxy(t, func(c net.Conn) {
		// 12 MB of header lines, then its end: a write fails once the
		// client stops reading and closes.
		line := "X-Pad: " + strings.Repeat("a", 1<<10) + "\r\n"
		bw := bufio.NewWriter(c)
		bw.WriteString("HTTP/1.1 200 Connection established\r\n")
		for n := 0; n < 12<<20; n += len(line) {
			if _, err := bw.WriteString(line); err != nil {
				return
			}
		}
		bw.WriteString("\r\n")
		bw.Flush()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pu, _ := url.Parse("http://ferry:" + secret + "@" + addr)
	c, err := Config{}.Dial(ctx, pu, "hie.example.org:443")
	if err == nil {
		c.Close()
		t.Fatal("a 12 MB answer to CONNECT was taken")
	}
	if msg := err.Error(); !strings.Contains(msg, "proxy http://ferry:[REDACTED]@"+addr) || !strings.Contains(msg, "longer than") || strings.Contains(msg, secret) {
		t.Errorf("error %q, want it to name the proxy (password redacted) and say its answer is too long", msg)
	}
}
