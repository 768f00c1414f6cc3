package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue/seal"
)

func purgeEvent(id string) Event {
	return OperatorEvent(OperatorAction{
		Kind:     OpDeadLetterPurge,
		Operator: Operator{UserID: "alice", AltUserID: "uid 1000", Address: "clinic-pc"},
		Gateway:  "ferry-clinic-1", GatewayAddr: "clinic-pc",
		Patient: "8f2c0a", Object: id, Outcome: OutcomeSuccess,
	})
}

func newEmitter(t *testing.T, url string, opts Options) *Emitter {
	t.Helper()
	opts.URL, opts.SourceID = url, "ferry-clinic-1"
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	e, err := NewEmitter(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestEmitterSendsOperatorEvent: a short-lived process's event reaches a
// real TLS repository at once, with the person as requestor.
func TestEmitterSendsOperatorEvent(t *testing.T) {
	p := demoPKI(t)
	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	handoff := filepath.Join(t.TempDir(), "handoff")
	e := newEmitter(t, "tls://"+addr, Options{TLS: clientTLS(p), HandoffDir: handoff})
	n, err := e.Emit(context.Background(), purgeEvent("01DEAD"))
	if err != nil || n != 0 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	a := parseAudit(t, r.waitN(t, 1)[0].msg)
	if a.Event.ID.Code != "110110" || a.Event.Action != "D" || a.Event.Type[0].Code != "dead-letter-purge" {
		t.Errorf("event = %+v", a.Event)
	}
	if len(a.Participants) != 2 || a.Participants[0].UserID != "alice" || a.Participants[0].Requestor != "true" ||
		a.Participants[0].Role.Code != "humanuser" || a.Participants[1].Role.Code != "110150" {
		t.Errorf("participants = %+v", a.Participants)
	}
	if len(a.Objects) != 2 || a.Objects[0].ID != "8f2c0a" || a.Objects[1].ID != "01DEAD" {
		t.Errorf("objects = %+v", a.Objects)
	}
	if files, _ := handoffFiles(handoff); len(files) != 0 {
		t.Errorf("hand-off files although sent: %v", files)
	}
}

// TestEmitterHandsOffToSink: with the repository down, the process's
// events are written durably to the hand-off directory; a gateway's Sink
// picks them up and delivers them, in order, once the repository is up.
func TestEmitterHandsOffToSink(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := t.TempDir()
	handoff := filepath.Join(dir, "audit", "handoff")
	e := newEmitter(t, "tls://"+addr, Options{TLS: clientTLS(p), HandoffDir: handoff})
	for i, id := range []string{"A1", "A2"} {
		n, err := e.Emit(context.Background(), purgeEvent(id))
		if err != nil || n != 1 {
			t.Fatalf("Emit %d = %d, %v", i, n, err)
		}
	}
	if e.Unreachable() == nil {
		t.Error("Unreachable is nil after a failed dial")
	}
	e.Close()
	files, err := handoffFiles(handoff)
	if err != nil || len(files) != 2 {
		t.Fatalf("hand-off files = %v, %v", files, err)
	}

	r, _ := startTLSRepo(t, p, addr)
	s := newSink(t, "tls://"+addr, clientTLS(p), filepath.Join(dir, "audit", "spool"), func(o *Options) { o.HandoffDir = handoff })
	start(t, s)
	msgs := r.waitN(t, 2)
	for i, want := range []string{`ParticipantObjectID="A1"`, `ParticipantObjectID="A2"`} {
		if !strings.Contains(string(msgs[i].msg), want) {
			t.Errorf("message %d lacks %s", i, want)
		}
	}
	shutdown(t, s)
	if files, _ := handoffFiles(handoff); len(files) != 0 {
		t.Errorf("hand-off files left: %v", files)
	}
	if st := s.Stats(); st.Sent != 2 || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestNewEmitterNeedsHandoff: a process that could not keep its events
// learns so before it acts.
func TestNewEmitterNeedsHandoff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := NewEmitter(Options{URL: "udp://127.0.0.1:514", SourceID: "x", HandoffDir: filepath.Join(file, "handoff")}); err == nil {
		t.Error("NewEmitter accepted a hand-off directory that cannot exist")
	}
	if _, err := NewEmitter(Options{URL: "udp://127.0.0.1:514", SourceID: "x"}); err == nil {
		t.Error("NewEmitter accepted no hand-off directory")
	}
}

// TestEmitterSealsHandoff: with the data-at-rest key, a command's events
// handed off while the repository is down (they may name a patient's
// identifier) are sealed in the file, not left in clear until a gateway
// takes them, and the gateway's Sink still delivers them.
func TestEmitterSealsHandoff(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := t.TempDir()
	handoff := filepath.Join(dir, "audit", "handoff")
	key, _ := seal.NewKey(bytes.Repeat([]byte{5}, 32))
	e := newEmitter(t, "tls://"+addr, Options{TLS: clientTLS(p), HandoffDir: handoff, Key: key})
	if n, err := e.Emit(context.Background(), purgeEvent("MRN-CLEAR-4711")); err != nil || n != 1 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	e.Close()
	files, err := handoffFiles(handoff)
	if err != nil || len(files) != 1 {
		t.Fatalf("hand-off files = %v, %v", files, err)
	}
	b, err := os.ReadFile(filepath.Join(handoff, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("MRN-CLEAR-4711")) {
		t.Fatal("the hand-off file holds the event in clear")
	}
	r, _ := startTLSRepo(t, p, addr)
	s := newSink(t, "tls://"+addr, clientTLS(p), filepath.Join(dir, "audit", "spool"), func(o *Options) { o.HandoffDir = handoff; o.Key = key })
	start(t, s)
	if msgs := r.waitN(t, 1); !strings.Contains(string(msgs[0].msg), `ParticipantObjectID="MRN-CLEAR-4711"`) {
		t.Errorf("delivered: %s", msgs[0].msg)
	}
	shutdown(t, s)
}
