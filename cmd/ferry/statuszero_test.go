package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusJSONNoYearOne: /api/status and `ferry status --json` of a
// gateway with an empty queue that has delivered nothing wrote the
// queue's Oldest, and the delivery's LastDelivery and LastErrorAt, as
// "0001-01-01T00:00:00Z", which a dashboard reads as an item queued two
// thousand years ago. A time that does not exist is now left out (the
// folders' oldest_waiting already was), under the same names otherwise.
func TestStatusJSONNoYearOne(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "data_dir: %q\nstatus: {listen: %q}\n", filepath.Join(dir, "data"), freeAddr(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg)
	resp, err := http.Get("http://" + gw.statusAddr.String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cli bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &cli, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var offline bytes.Buffer
	cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &offline, io.Discard)
	for name, b := range map[string]string{"/api/status": string(api), "status --json": cli.String(), "status --json, not running": offline.String()} {
		if !strings.Contains(b, `"Depth": 0`) {
			t.Errorf("%s lacks the queue:\n%s", name, b)
		}
		if strings.Contains(b, "0001-01-01") {
			t.Errorf("%s has a time of year 1:\n%s", name, b)
		}
	}
}
