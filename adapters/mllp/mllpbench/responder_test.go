package mllpbench

import (
	"context"
	"net"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

func serveResponder(t *testing.T, r *Responder) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestResponderAnswersEveryMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *Responder
		cfg  Config
	}{
		{"no storage", &Responder{}, Config{Conns: 3, Messages: 40}},
		{"fdatasync each", &Responder{SyncDir: t.TempDir(), LogBytes: 64 << 10}, Config{Conns: 2, Messages: 40}},
		{"connection per message", &Responder{}, Config{Conns: 2, Messages: 10, ConnPerMessage: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Addr = serveResponder(t, tc.r)
			res, err := Run(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.cfg.Conns * tc.cfg.Messages
			if res.Accepted() != want || res.Mismatched != 0 || res.Errors != 0 {
				t.Fatalf("result = %+v, want %d AA with MSA-2 echoing MSH-10", res, want)
			}
			if got := tc.r.Answered(); got != int64(want) {
				t.Fatalf("Answered() = %d, want %d", got, want)
			}
		})
	}
}

func TestResponderAckSwapsPartiesAndKeepsDelimiters(t *testing.T) {
	msg := []byte("MSH#$~\\&#LAB#NORTH#FERRY#EXCH#20260101120000##ORU$R01#C42#P#2.5.1\rPID#1\r")
	ack := appendAck(nil, msg)
	m, err := hl7v2.Parse(ack)
	if err != nil {
		t.Fatalf("parse %q: %v", ack, err)
	}
	msh := m.Segments()[0]
	for _, c := range []struct {
		field int
		want  string
	}{{3, "FERRY"}, {4, "EXCH"}, {5, "LAB"}, {6, "NORTH"}, {9, "ACK"}, {10, "C42"}, {12, "2.5.1"}} {
		if got := msh.Field(c.field).String(); got != c.want {
			t.Errorf("MSH-%d = %q, want %q (ack %q)", c.field, got, c.want, ack)
		}
	}
	if code, id := readMSA(ack); code != "AA" || id != "C42" {
		t.Errorf("MSA = %s|%s, want AA|C42", code, id)
	}
	if code, _ := readMSA(appendAck(nil, []byte("not hl7"))); code != "AR" {
		t.Errorf("a frame without MSH got %s, want AR", code)
	}
}
