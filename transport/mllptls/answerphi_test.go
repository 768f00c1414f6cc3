package mllptls

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// syncBuffer is a log sink the dispatcher's workers and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAnswerNotHL7LogsNoText: an exchange whose acknowledgement has a
// line break inside its text (MSA-3 "Patient SMITH<LF>JOHN DOB 19800101
// not found", a Java exception's message as an interface engine writes
// it) sends an answer that does not parse, the line after the break
// taken for a segment. The delivery is retried and logged without
// log.phi: the WARN must not quote that line, only where it is.
func TestAnswerNotHL7LogsNoText(t *testing.T) {
	p, srv := testPKI(t)
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		framed := ackFor(f, "AE", "")
		ack := string(framed[1 : len(framed)-2])
		ack = strings.TrimSuffix(ack, "\r") + "|Patient SMITH\nJOHN DOB 19800101 not found\r"
		return mllp.AppendFrame(nil, []byte(ack))
	})
	sink := newSink(t, p, addr)
	q, err := diskq.Open(filepath.Join(t.TempDir(), "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	it := item(t, "m", adtMsg("M1"))
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1,
		InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "delivery failing") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN of the failing delivery:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "not an HL7 v2 message") {
		t.Errorf("the WARN does not say the answer was not HL7 v2:\n%s", out)
	}
	for _, phi := range []string{"JOHN", "DOB", "1980"} {
		if strings.Contains(out, phi) {
			t.Errorf("the log quotes %q of the exchange's answer:\n%s", phi, out)
		}
	}
}
