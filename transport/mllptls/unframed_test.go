package mllptls

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestUnframedAnswerIsNamed: an exchange that answers without MLLP framing
// (a plain HL7 ACK, its interface set to raw TCP) or with a frame far too
// large for an acknowledgement sent something, yet the error said only
// "i/o timeout" or "mllp frame of N bytes exceeds the limit", sending the
// operator after the network or the message's size. The error now says
// that the exchange's answer was not framed (how many bytes) or too
// large; the unframed one stays an unknown outcome, retried after
// unknown_outcome_delay.
func TestUnframedAnswerIsNamed(t *testing.T) {
	p, srv := testPKI(t)
	send := func(reply func(f []byte) []byte) error {
		addr := fakeExchange(t, srv, reply)
		s, err := New(Config{URL: "mllps://" + addr, Timeout: 300 * time.Millisecond, TLS: newSink(t, p, addr).cfg.TLS}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		if err := s.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s.Send(context.Background(), item(t, "m", adtMsg("M1")))
	}

	err := send(func(f []byte) []byte {
		framed := ackFor(f, "AA", "")
		return framed[1 : len(framed)-2] // the ACK without <SB> and <EB><CR>
	})
	if err == nil || !strings.Contains(err.Error(), "not in an MLLP frame") {
		t.Errorf("unframed ACK: %v, want it said that the answer was not framed", err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("unframed ACK: %v, want it still a timeout (an unknown outcome)", err)
	}

	err = send(func([]byte) []byte { return mllp.AppendFrame(nil, bytes.Repeat([]byte("A"), 2<<20)) })
	if err == nil || !strings.Contains(err.Error(), "the exchange's answer") {
		t.Errorf("oversized answer: %v, want it named the exchange's answer", err)
	}
}
