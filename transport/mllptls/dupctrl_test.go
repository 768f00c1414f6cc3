package mllptls

import (
	"context"
	"strings"
	"sync"
	"testing"

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
	var mu sync.Mutex
	n := 0 // messages received, over all connections
	addr := replayingExchange(t, srv, func([]byte) string {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 2 {
			return "AE" // the second message is refused
		}
		return "AA"
	})
	s := newSink(t, p, addr)
	if err := s.Send(context.Background(), item(t, "first", adtMsg("DUP"))); err != nil {
		t.Fatalf("first: %v", err)
	}
	err := s.Send(context.Background(), item(t, "second", strings.Replace(adtMsg("DUP"), "Doe^Pat", "Roe^Sam", 1)))
	if !queue.IsPermanent(err) {
		t.Errorf("second message with the same control id, refused: %v, want the AE (dead letter)", err)
	}
}
