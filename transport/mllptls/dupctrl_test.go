package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue"
)

// TestRepeatedControlIDGetsNewConnection: a sender that reuses MSH-10 (a
// counter that starts again after a restart, a fixed value) and a
// receiver that answers a kept connection's earlier messages again before
// the current one's (npm node-hl7-server 2.5.0, issue #102). The second
// message with the same control id on one connection could not tell the
// first one's AA, given again, from its own answer: the AA came first and
// counted, and a message the exchange refused (AE) was taken from the
// queue as delivered. A message whose control id went out earlier on the
// kept connection goes on a new one, where no earlier answer can come.
func TestRepeatedControlIDGetsNewConnection(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	n := 0 // messages received, over all connections
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				var earlier [][]byte
				for {
					f, err := rd.ReadFrame()
					if err != nil {
						return
					}
					var out []byte
					for _, e := range earlier {
						out = append(out, ackFor(e, "AA", "")...)
					}
					earlier = append(earlier, bytes.Clone(f))
					mu.Lock()
					n++
					code := "AA"
					if n == 2 {
						code = "AE" // the second message is refused
					}
					mu.Unlock()
					if _, err := c.Write(append(out, ackFor(f, code, "")...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	if err := s.Send(context.Background(), item(t, "first", adtMsg("DUP"))); err != nil {
		t.Fatalf("first: %v", err)
	}
	err = s.Send(context.Background(), item(t, "second", strings.Replace(adtMsg("DUP"), "Doe^Pat", "Roe^Sam", 1)))
	if !queue.IsPermanent(err) {
		t.Errorf("second message with the same control id, refused: %v, want the AE (dead letter)", err)
	}
}
