package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/dedup"
)

// TestVersionsManyConnections: many T02/T10 pairs arrive on separate
// connections at once (each pair's two messages racing), beside batch
// files doing the same: no deadlock, and every replaced version ends
// superseded with its replacement current. Run with -race.
func TestVersionsManyConnections(t *testing.T) {
	p, q, _, _ := versionPipeline(t)
	seen, err := dedup.Open(filepath.Join(t.TempDir(), "seen"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	p.dedup = seen
	ctx := context.Background()
	const pairs = 24
	var wg sync.WaitGroup
	consume := func(in adapters.Raw) {
		defer wg.Done()
		for range 20 {
			err := p.Consume(ctx, in)
			if err == nil {
				return
			}
			if !errors.Is(err, errStaleVersions) {
				t.Error(err)
				return
			}
		}
		t.Errorf("%s: stale after 20 tries", in.Name)
	}
	for i := range pairs {
		old, repl := fmt.Sprintf("D-%d", i), fmt.Sprintf("D-%d-v2", i)
		wg.Add(2)
		if i%3 == 0 {
			go consume(adapters.Raw{Source: "folder", Format: "hl7v2-batch", Name: fmt.Sprintf("batch %d", i), Received: time.Now(),
				Body: batchFile(mdmVersion("T02", fmt.Sprintf("B-%d", i), "", old, ""))})
		} else {
			go consume(adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: fmt.Sprintf("t02 %d", i), Received: time.Now(),
				Body: []byte(mdmVersion("T02", fmt.Sprintf("A-%d", i), "", old, ""))})
		}
		go consume(adapters.Raw{Source: "mllp/b", Format: "hl7v2", Name: fmt.Sprintf("t10 %d", i), Received: time.Now(),
			Body: []byte(mdmVersion("T10", fmt.Sprintf("C-%d", i), "", repl, old))})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("consumers stuck (deadlock?)")
	}
	got := exchangeStatuses(t, q)
	for i := range pairs {
		old, repl := fmt.Sprintf("D-%d", i), fmt.Sprintf("D-%d-v2", i)
		if got[old] != "superseded" || got[repl] != "current" {
			t.Errorf("%s: %q, %s: %q; want superseded, current", old, got[old], repl, got[repl])
		}
	}
}
