package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestHeldReleaseRefusedWhileQueueHeld: while another process holds the
// queue (the gateway, or a release or replay in another terminal),
// release refuses naming both: told only to stop the gateway, a person
// whose service is stopped is left at a loss. The entry stays held.
func TestHeldReleaseRefusedWhileQueueHeld(t *testing.T) {
	cfgFile, cfg := quarCfg(t, t.TempDir(), "")
	id := putHeld(t, cfg, "k-rel", "R")
	other, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	err = cmdHeld(context.Background(), []string{"release", id, "--config", cfgFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "or another ferry command does (a release or a replay in another terminal)") {
		t.Fatalf("release with the queue held: %v", err)
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Get(id); err != nil {
		t.Errorf("the refused release changed the held store: %v", err)
	}
}
