package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// TestStatusJSONTimesInUTC: /api/status and `ferry status --json` gave
// "now" and "started" in UTC but the queue's oldest item, the last
// delivery, the last error, a backup's time and the other figures' times
// with the offset of the computer's zone ("2026-11-28T16:44:24-06:00" on
// a clinic's server in Chicago), so one document mixed zones, and a
// dashboard that compares or sorts the RFC 3339 strings (jq, a JSON data
// source) read them wrong. Every time is in UTC. The gateway runs in a
// child process (this test binary again) whose zone is America/Chicago.
func TestStatusJSONTimesInUTC(t *testing.T) {
	if os.Getenv("FERRY_TEST_STATUS_TZ") != "" {
		statusJSONTimesInUTC(t)
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("Windows takes its zone from the system, not TZ")
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	if _, err := time.LoadLocation("America/Chicago"); err != nil {
		t.Skipf("no zone database: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStatusJSONTimesInUTC$", "-test.v")
	cmd.Env = append(os.Environ(), "FERRY_TEST_STATUS_TZ=1", "TZ=America/Chicago")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in the zone America/Chicago: %v\n%s", err, out)
	}
}

// zonedTime is an RFC 3339 time with an offset from UTC.
var zonedTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d"`)

func statusJSONTimesInUTC(t *testing.T) {
	if _, off := time.Now().Zone(); off == 0 {
		t.Fatalf("the child's zone is %v, not America/Chicago", time.Local)
	}
	dir := t.TempDir()
	cfgFile, _, cfg := heldConfig(t, dir)
	gw := runGateway(t, cfg)
	conn, err := net.Dial("tcp", gw.MLLPAddr("main").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if code := send(t, conn, mllp.NewReader(conn, 1<<20), fmt.Sprintf(testADT, 1, 1)); code != "AA" {
		t.Fatalf("message: %s", code)
	}
	// The exchange is not there: the delivery's failure has a time.
	deadline := time.Now().Add(20 * time.Second)
	for gw.report().Delivery.LastErrorAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ops.RecordBackup(cfg.DataDir, ops.BackupRecord{Time: time.Now(), File: "/mnt/nas/ferry.tar.gz", Files: 1, Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + gw.statusAddr.String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var online bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &online, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var offline bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &offline, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"/api/status": api, "status --json": online.Bytes(), "status --json, not running": offline.Bytes()} {
		// The running gateway does not report the last backup; `ferry
		// status` reads it from data_dir.
		if !bytes.Contains(b, []byte(`"Oldest": "`)) || name != "/api/status" && !bytes.Contains(b, []byte(`"time": "`)) {
			t.Errorf("%s lacks the queue's oldest item or the last backup:\n%s", name, b)
		}
		if zoned := zonedTime.FindAll(b, -1); len(zoned) > 0 {
			t.Errorf("%s has times not in UTC: %s\n%s", name, bytes.Join(zoned, []byte(", ")), b)
		}
	}
}
