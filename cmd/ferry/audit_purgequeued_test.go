package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// putWaiting queues one item with a patient key, not yet delivered.
func putWaiting(t *testing.T, q *diskq.Queue, key string) string {
	t.Helper()
	it := &queue.Item{Key: key, Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"control_id": "CTL-W"}}
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// TestPurgeWaitingItemAuditNamesPatient: `ferry queue purge` also deletes
// an item still waiting for delivery (never sent). That deletes patient
// data as a dead letter's purge does, so its Patient Record delete event
// must name the patient key too, offline and through the gateway's ops
// API alike.
func TestPurgeWaitingItemAuditNamesPatient(t *testing.T) {
	t.Run("offline", func(t *testing.T) {
		repo := newUDPRepo(t)
		cfgFile, cfg := auditCfgFile(t, t.TempDir(), repo.URL(), "")
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		id := putWaiting(t, q, "pk-waiting")
		q.Close(context.Background())
		if out, err := runQueue(t, "purge", id, "--config", cfgFile); err != nil {
			t.Fatalf("purge: %v\n%s", err, out)
		}
		wantIn(t, "purge event", repo.next(), `EventActionCode="D"`, `EventOutcomeIndicator="0"`,
			`ParticipantObjectID="`+id+`"`, `ParticipantObjectID="pk-waiting"`)
	})
	t.Run("ops api", func(t *testing.T) {
		repo := newUDPRepo(t)
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		defer srv.Close()
		dir := t.TempDir()
		cfgFile := filepath.Join(dir, "ferry.yaml")
		y := fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\naudit:\n  url: %q\n  source_id: clinic-7-ferry\n",
			filepath.Join(dir, "data"), strings.TrimPrefix(srv.URL, "http://"), repo.URL())
		os.WriteFile(cfgFile, []byte(y), 0o600)
		cfg, err := config.Load(cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(cfg.DataDir, 0o700)
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		id := putWaiting(t, q, "pk-waiting")
		g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
		if g.audit, err = g.newAuditTrail(); err != nil {
			t.Fatal(err)
		}
		g.audit.Start(context.Background())
		defer g.audit.Shutdown(context.Background())
		g.registerOps(mux)
		if out, err := runQueue(t, "purge", id, "--config", cfgFile); err != nil {
			t.Fatalf("purge through gateway: %v\n%s", err, out)
		}
		wantIn(t, "API purge event", repo.next(), `EventActionCode="D"`, `EventOutcomeIndicator="0"`, `UserID="ops-api"`,
			`ParticipantObjectID="`+id+`"`, `ParticipantObjectID="pk-waiting"`)
	})
}
