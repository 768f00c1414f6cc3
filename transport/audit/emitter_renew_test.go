package audit

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
)

// TestEmitterDTLSRepositoryRestart: a command that runs for a while
// (`ferry backfill`, which sends its events every 256) keeps its DTLS
// association between sends. The repository crashed and came back
// meanwhile at the same address, without the old association's state,
// and silently discards what is written into it; as the gateway's sink
// does (TestDTLSRepositoryRestart), the command's emitter retires an
// association left unwritten for DefaultDTLSMaxIdle, and the next event
// opens a new one and reaches the restarted repository.
func TestEmitterDTLSRepositoryRestart(t *testing.T) {
	p := demoPKI(t)
	a := startRepoProcess(t, p, "127.0.0.1:0")
	clock := &fakeClock{}
	handoff := filepath.Join(t.TempDir(), "handoff")
	e := newEmitter(t, "dtls://"+a.addr, Options{TLS: clientTLS(p), HandoffDir: handoff})
	e.dialer.now = clock.now
	if n, err := e.Emit(context.Background(), exportN(0)); err != nil || n != 0 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	a.r.waitN(t, 1)
	a.kill()
	b := startRepoProcess(t, p, a.addr)
	clock.advance(DefaultDTLSMaxIdle)
	if n, err := e.Emit(context.Background(), exportN(1)); err != nil || n != 0 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	b.r.waitN(t, 1)
	wantOrder(t, bundleIDs(t, b.r), 1, 2)
}

// TestEmitterTLSRepositoryClosedIdleConnection: a repository (or a load
// balancer in front of it) that ends a command's idle connection has not
// gone away; the next events open a new connection, as the sink's do
// (TestTLSRepositoryClosedIdleConnection), rather than all being handed
// off to the gateway with "audit repository unreachable".
func TestEmitterTLSRepositoryClosedIdleConnection(t *testing.T) {
	p := demoPKI(t)
	r, addr := startClosingTLSRepo(t, p)
	handoff := filepath.Join(t.TempDir(), "handoff")
	e := newEmitter(t, "tls://"+addr, Options{TLS: clientTLS(p), HandoffDir: handoff})
	if n, err := e.Emit(context.Background(), exportN(0)); err != nil || n != 0 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	r.waitN(t, 1)
	<-e.c.(*tlsConn).lost()
	if n, err := e.Emit(context.Background(), exportN(1)); err != nil || n != 0 || e.Unreachable() != nil {
		t.Fatalf("Emit = %d, %v (unreachable: %v)", n, err, e.Unreachable())
	}
	wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
}

// TestEmitterRefusalNotHiddenByHandOff: an https repository refuses one
// of a command's events as invalid (422: not kept, never sent again)
// and then fails (503) on the next, which is handed off; Emit still
// reports the refused one, as it does when the rest were sent, so that
// the command says an event of its action was lost.
func TestEmitterRefusalNotHiddenByHandOff(t *testing.T) {
	p := demoPKI(t)
	r := &fhirRepo{status: func(n int) int {
		if n == 1 {
			return http.StatusUnprocessableEntity
		}
		return http.StatusServiceUnavailable
	}}
	url := startFHIRRepo(t, p, r)
	handoff := filepath.Join(t.TempDir(), "handoff")
	e := newEmitter(t, url, Options{TLS: clientTLS(p), HandoffDir: handoff})
	n, err := e.Emit(context.Background(), exportN(0), exportN(1))
	var re *refusedError
	if n != 1 || !errors.As(err, &re) {
		t.Fatalf("Emit = %d, %v; want 1 handed off and the refusal", n, err)
	}
	if files, _ := handoffFiles(handoff); len(files) != 1 {
		t.Errorf("hand-off files %v, want 1", files)
	}
}
