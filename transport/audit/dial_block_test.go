package audit

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestSlowDialKeepsEvents: a repository that takes a connection but never
// completes the TLS handshake (a hung server, a firewall that blackholes
// the port) holds a dial for the whole Timeout, again at every redial.
// The events recorded meanwhile must go to the spool, which has room: a
// sender stuck in the dial leaves them in the channel from Record, and
// once QueueSize more arrive (4096: ten seconds of a busy gateway) they
// are dropped.
func TestSlowDialKeepsEvents(t *testing.T) {
	p := demoPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	const queue = 8
	s := newSink(t, "tls://"+ln.Addr().String(), clientTLS(p), filepath.Join(t.TempDir(), "spool"), func(o *Options) {
		o.QueueSize = queue
		o.Timeout = time.Hour // longer than the test's patience: the dial is in progress throughout
	})
	start(t, s)
	c := <-accepted // the sender's dial is in the handshake now
	defer c.Close()
	for round := 1; round <= 4; round++ {
		for i := range queue {
			s.Record(exportN(round*queue + i))
		}
		waitStats(t, s, "the events spooled while the dial hangs", func(st Stats) bool { return st.Spooled == uint64(round*queue) })
	}
	if st := s.Stats(); st.Dropped != 0 || st.Pending != 4*queue {
		t.Errorf("stats = %+v, want %d pending and none dropped", st, 4*queue)
	}
	shutdown(t, s)
}
