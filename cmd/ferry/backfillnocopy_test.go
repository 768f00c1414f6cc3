package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackfillUncopiedFileFedAgain: a file too large for the quarantine
// to keep a copy of (backfill streams one over 32 MiB) and refused whole
// (a FHIR Bundle over sources.max_whole_file_bytes) was quarantined
// without its content and remembered as done, so once the setting was
// raised neither `ferry quarantine replay` (no copy) nor backfill run
// again (already done) took it: it never reached the exchange. It is not
// remembered as done, and the next run feeds it.
func TestBackfillUncopiedFileFedAgain(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old")
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}],"name":[{"family":"Doe"}]},"request":{"method":"PUT","url":"Patient/p1"}}]}`
	body := append([]byte(bundle), bytes.Repeat([]byte(" "), 33<<20)...)
	putFile(t, filepath.Join(exp, "export.json"), body)
	cfgFile, cfg := backfillCfg(t, dir, "sources:\n  max_whole_file_bytes: 1048576\n")
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 quarantined") || !strings.Contains(out.String(), "quarantined without a copy") || !strings.Contains(out.String(), "sha256=") {
		t.Fatalf("first run:\n%s", out.String())
	}
	// The replay that cannot take it says what can.
	if got, err := runQuarantine(t, "replay", "--all", "--config", cfgFile); err == nil || !strings.Contains(got, "`ferry backfill`") {
		t.Fatalf("replay of an entry without a copy: %v\n%s", err, got)
	}
	// The limit raised, as the reason says.
	y := fmt.Sprintf("data_dir: %q\nsources:\n  max_whole_file_bytes: 67108864\n", cfg.DataDir)
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if q := queueDepth(t, cfg); q != 1 {
		t.Fatalf("after the limit was raised, %d bundle(s) queued:\n%s", q, out.String())
	}
}
