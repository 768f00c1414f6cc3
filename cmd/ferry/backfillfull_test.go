package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackfillQueueFullSaysDeliverFirst: a backfill larger than the
// queue (queue.max_items, queue.max_bytes) stops when the queue is full,
// and said "run the same command again to resume", which, the gateway
// stopped as backfill needs it, stopped again at the same file with
// nothing delivered meanwhile. It says to have the gateway deliver
// first: start it, stop it once the queue has room, then run again.
func TestBackfillQueueFullSaysDeliverFirst(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old")
	putFile(t, filepath.Join(exp, "1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	putFile(t, filepath.Join(exp, "2.hl7"), []byte(fmt.Sprintf(testADT, 2, 2)))
	cfgFile, _ := backfillCfg(t, dir, "queue:\n  max_items: 1\n")
	for run := 1; run <= 2; run++ {
		err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "queue is full") || !strings.Contains(err.Error(), "`ferry start`") || !strings.Contains(err.Error(), "`ferry stop`") {
			t.Fatalf("run %d: %v", run, err)
		}
	}
}
