package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestAckEndSplitAcrossRecordsKeepsConnection: a receiver that writes an
// ACK's end block and its closing CR with two writes (a Java or .NET
// MLLP writer on an unbuffered TLS stream, one record each) leaves the
// CR to arrive after the frame was read. The check before reuse took
// that CR for an unasked answer and replaced the connection, a TLS
// handshake and a new connection at the exchange for every message; it
// is the previous frame's end, and the connection is kept.
func TestAckEndSplitAcrossRecordsKeepsConnection(t *testing.T) {
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
				for {
					f, err := rd.ReadFrame()
					if err != nil {
						return
					}
					ack := ackFor(f, "AA", "")
					body := bytes.TrimSuffix(ack, []byte{mllp.CarriageReturn})
					if _, err := c.Write(body); err != nil {
						return
					}
					if _, err := c.Write([]byte{mllp.CarriageReturn}); err != nil {
						return
					}
				}
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	for i := range 4 {
		if err := s.Send(context.Background(), item(t, fmt.Sprint("it", i), adtMsg(fmt.Sprint("C", i)))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if d := s.dialCount(); d != 1 {
		t.Errorf("%d connections for 4 messages, want 1: the ACK's closing CR in a record of its own is no unasked answer", d)
	}
}
