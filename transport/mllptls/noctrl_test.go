package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue"
)

// TestStaleAckBeforeOneWithoutControlID: a message whose MSH-10 is empty
// (a sender that leaves it so) on a kept connection, to a receiver that
// answers the connection's earlier messages again before the current
// one's (npm node-hl7-server 2.5.0, issue #102) and refuses it (AE). The
// message was not noted among those sent on the connection, so the one
// before it was taken for the one in flight: the stale AA of the earlier
// message was not known as such and, the message naming no control id to
// tell it by, counted as this message's answer, so a message the
// exchange refused was taken from the queue as delivered. It is skipped
// as for any message, and the refusal read after it decides.
func TestStaleAckBeforeOneWithoutControlID(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
					code := "AA"
					if m, _ := hl7v2.Parse(f); m.ControlID() == "" {
						code = "AE" // no control id: refused
					}
					earlier = append(earlier, bytes.Clone(f))
					if _, err := c.Write(append(out, ackFor(f, code, "")...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	if err := s.Send(context.Background(), item(t, "N1", adtMsg("N1"))); err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), item(t, "N2", adtMsg("")))
	var ae *AckError
	if !queue.IsPermanent(err) || !errors.As(err, &ae) || ae.Code != "AE" {
		t.Fatalf("a message without MSH-10 the exchange refused: %v, want its AE (a dead letter)", err)
	}
}
