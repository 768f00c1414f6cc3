package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
)

// TestQueueOpRunningGatewayWithoutStatusListener: while a gateway holds
// the queue, retry, purge and show --body go through its status listener.
// With status.listen off there is none; a token left in the data folder
// by an earlier run must not send the command to "http:///": the
// operator is told to stop the gateway (or turn status.listen on).
func TestQueueOpRunningGatewayWithoutStatusListener(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %q\n", filepath.Join(dir, "data"))), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	q, ids := deadLetterQueue(t, cfg, 1) // held open: the "running gateway"
	defer q.Close(context.Background())
	if _, err := ops.WriteToken(cfg.DataDir); err != nil { // left by an earlier run
		t.Fatal(err)
	}
	for _, args := range [][]string{{"retry", ids[0]}, {"purge", ids[0]}, {"show", ids[0], "--body"}} {
		_, err := runQueue(t, append(args, "--config", cfgFile)...)
		if err == nil || !strings.Contains(err.Error(), "status.listen") {
			t.Errorf("%s with the gateway running and no status listener: %v", args[0], err)
		}
	}
}
