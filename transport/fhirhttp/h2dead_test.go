package fhirhttp

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// blackholeRelay forwards TCP connections to target until blackhole: from
// then on the connections it holds forward nothing either way and stay
// open, as over a VPN tunnel or a firewall that lost its state silently;
// new connections are forwarded again. dropped is closed when the client
// closes one of the blackholed connections.
type blackholeRelay struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	pairs   []*relayPair
	dropped chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

type relayPair struct {
	client, server net.Conn
	mu             sync.Mutex
	dead           bool
}

func newBlackholeRelay(t *testing.T, target string) *blackholeRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &blackholeRelay{ln: ln, target: target, dropped: make(chan struct{})}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, p := range r.pairs {
			p.client.Close()
			p.server.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *blackholeRelay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		p := &relayPair{client: c, server: s}
		r.mu.Lock()
		r.pairs = append(r.pairs, p)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.copy(p, s, c, true)
		go r.copy(p, c, s, false)
	}
}

// copy forwards from src to dst while p lives; fromClient says src is
// the client's side.
func (r *blackholeRelay) copy(p *relayPair, dst, src net.Conn, fromClient bool) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		dead := p.dead
		p.mu.Unlock()
		if err != nil {
			if dead && fromClient {
				r.once.Do(func() { close(r.dropped) })
			}
			if !dead {
				dst.Close()
			}
			return
		}
		if !dead {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (r *blackholeRelay) blackhole() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pairs {
		p.mu.Lock()
		p.dead = true
		p.mu.Unlock()
	}
}

// TestDeadHTTP2ConnectionIsDropped: an HTTP/2 connection whose path died
// silently (a VPN tunnel or firewall that lost its state: nothing comes
// back, nothing is reset) is closed once it stays silent, so that the
// next bundle goes out on a new connection. Every bundle was sent into
// the dead connection until the kernel gave up on it (some 15 minutes):
// HTTP/2 shares one connection among all requests, and net/http keeps a
// connection whose requests timed out in use for the next ones (HTTP/1.1
// closes it with the timed-out request).
func TestDeadHTTP2ConnectionIsDropped(t *testing.T) {
	ex := newExchange(t, true)
	relay := newBlackholeRelay(t, ex.srv.Listener.Addr().String())
	_, port, _ := net.SplitHostPort(relay.ln.Addr().String())
	u := strings.Replace(ex.url(), ex.srv.Listener.Addr().String()[len("127.0.0.1:"):], port, 1)
	s := newSink(t, Config{URL: u, TLS: ex.clientTLS(), Timeout: 500 * time.Millisecond})
	if err := s.Send(context.Background(), item("01BEFORE")); err != nil {
		t.Fatal(err)
	}
	relay.blackhole()
	if err := s.Send(context.Background(), item("01LOST")); err == nil {
		t.Fatal("delivered through a dead connection")
	}
	select {
	case <-relay.dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("the dead connection is still in use 10s after it went silent")
	}
	if err := s.Send(context.Background(), item("01AFTER")); err != nil {
		t.Fatalf("after the dead connection: %v", err)
	}
}
