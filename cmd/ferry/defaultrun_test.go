package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestDefaultConfigRun is the README's first command, `go run ./cmd/ferry
// run`, end to end: the embedded default loaded as `ferry run` loads it
// without --config, with only what a test must change overridden (the data
// folder, and port 0 for the listeners so that parallel test runs do not
// collide), then one ADT^A01 over MLLP. It must be acknowledged AA and
// become exactly one transaction Bundle file, holding the Patient, in
// <data_dir>/outbox, since the default names no exchange.
func TestDefaultConfigRun(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exchange.URL != "" || len(cfg.Sources.MLLP) != 1 {
		t.Fatalf("embedded default: exchange %q, %d MLLP listeners; want outbox delivery from one listener", cfg.Exchange.URL, len(cfg.Sources.MLLP))
	}
	cfg.DataDir = t.TempDir()
	cfg.Sources.MLLP[0].Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default with test overrides: %v", err)
	}
	cfg.Status.Listen = "127.0.0.1:0" // 8089 may be taken on a test machine; validation refuses port 0
	gw := runGateway(t, cfg)

	conn, err := net.Dial("tcp", gw.MLLPAddr(cfg.Sources.MLLP[0].Name).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := mllp.NewReader(bufio.NewReader(conn), 1<<20)
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("ADT^A01: MSA-1 %s, want AA", got)
	}

	outbox := filepath.Join(cfg.DataDir, "outbox")
	bundles := func() []string {
		m, _ := filepath.Glob(filepath.Join(outbox, "*.json"))
		return m
	}
	waitFor(t, "a bundle in the outbox and an empty queue", func() bool { return len(bundles()) > 0 && gw.q.Len() == 0 })
	files := bundles()
	if len(files) != 1 {
		t.Fatalf("outbox holds %d bundle files, want exactly 1: %v", len(files), files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
			Request struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatalf("%s is not JSON: %v", files[0], err)
	}
	if bundle.ResourceType != "Bundle" || bundle.Type != "transaction" {
		t.Fatalf("%s: resourceType %q type %q, want a transaction Bundle", files[0], bundle.ResourceType, bundle.Type)
	}
	patients := 0
	for _, e := range bundle.Entry {
		if e.Resource.ResourceType == "Patient" {
			patients++
			if e.Request.Method == "" || !strings.HasPrefix(e.Request.URL, "Patient") {
				t.Errorf("Patient entry without a transaction request: %+v", e.Request)
			}
		}
	}
	if patients != 1 {
		t.Errorf("bundle holds %d Patients, want 1", patients)
	}
}

// TestVersionCommand: `ferry version` prints one line, "ferry " and the
// version: the release set at build time, or for a development build "dev"
// with the VCS revision when Go recorded one.
func TestVersionCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`^ferry dev(\+[0-9a-f]{1,12}(-modified)?)?\n$`).MatchString(out.String()) {
		t.Errorf("development build printed %q", out.String())
	}

	saved := version
	t.Cleanup(func() { version = saved })
	version = "1.4.2"
	out.Reset()
	if code := runMain(context.Background(), []string{"version"}, &out, &errOut); code != 0 || out.String() != "ferry 1.4.2\n" {
		t.Errorf("release build: exit %d, printed %q, want \"ferry 1.4.2\\n\"", code, out.String())
	}
}
