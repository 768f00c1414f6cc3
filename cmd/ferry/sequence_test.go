package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// seqADT is an A08 numbered seq in the HL7 sequence number protocol.
func seqADT(id string, seq int) string {
	return fmt.Sprintf("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125083000||ADT^A08^ADT_A01|%s|P|2.3|%d\r"+
		"EVN|A08|20261125083000\rPID|1||MRN-7^^^CLINIC^MR||Doe^Seq||19800101|F\rPV1|1|O\r", id, seq)
}

// TestGatewaySequenceNumbers: the default listener takes part in the HL7
// sequence number protocol with the real queue behind it. A link start is
// answered with the number expected and queues nothing; a message resent
// under its number after a lost ACK is a duplicate (queued once); the last
// number survives a restart, so the sender's next link start learns
// where to go on; `ferry status` shows it.
func TestGatewaySequenceNumbers(t *testing.T) {
	dir := t.TempDir()
	yml := fmt.Sprintf("data_dir: %q\nsources: {mllp: [{name: t, listen: 127.0.0.1:0}]}\n", dir)
	cfgFile := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "%s", yml)
	seqCmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), append(append([]string{"sequences"}, args...), "--config", cfgFile), &out, &errb)
		return code, out.String() + errb.String()
	}
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	ack := func(msg string) (code, expected string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := mllp.WriteFrame(conn, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		b, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return m.Get("MSA-1"), m.Get("MSA-4")
	}
	start := "MSH|^~\\&|LAB|767543|FERRY|HIE|20261125083000||^|START-1|P|2.3|0\r"
	if c, e := ack(start); c != "AA" || e != "-1" {
		t.Fatalf("link start: %s %s, want AA -1", c, e)
	}
	if n := gw.q.Len(); n != 0 {
		t.Fatalf("a link start queued %d bundles", n)
	}
	for i := 1; i <= 3; i++ {
		if c, e := ack(seqADT(fmt.Sprintf("S-%d", i), i)); c != "AA" || e != fmt.Sprint(i+1) {
			t.Fatalf("message %d: %s %s", i, c, e)
		}
	}
	// The ACK of 3 was lost: the sender sends 3 again.
	if c, e := ack(seqADT("S-3", 3)); c != "AA" || e != "4" {
		t.Fatalf("resent 3: %s %s", c, e)
	}
	if d := gw.pipe.Stats().Duplicates.Load(); d != 1 {
		t.Errorf("duplicates %d, want 1", d)
	}
	var out bytes.Buffer
	r := gw.report()
	r.Online = true // as `ferry status` reads it from the status page
	ops.PrintStatus(&out, &r)
	var metrics bytes.Buffer
	writeMetrics(&metrics, r)
	if !strings.Contains(metrics.String(), `ferry_mllp_sequence_anomalies_total{source="t",kind="repeat"} 1`) {
		t.Errorf("metrics: no repeat counted")
	}
	if !strings.Contains(out.String(), "HL7 sequence numbers (MSH-13): LAB|767543|FERRY|HIE expects 4; 0 gaps (0 refused), 1 repeats since start") {
		t.Errorf("status:\n%s", out.String())
	}
	// `ferry sequences list` reads the numbers beside the running gateway;
	// reset needs it stopped.
	if code, out := seqCmd("list"); code != 0 || !regexp.MustCompile(`t\s+LAB\|767543\|FERRY\|HIE\s+3\s+4`).MatchString(out) {
		t.Errorf("sequences list: %d %s", code, out)
	}
	if code, out := seqCmd("reset", "LAB|767543|FERRY|HIE", "--yes"); code == 0 || !strings.Contains(out, "the gateway is running") {
		t.Errorf("sequences reset beside a running gateway: %d %s", code, out)
	}
	conn.Close()
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	gw = runGateway(t, cfg)
	conn, rd = dial(t, gw)
	if c, e := ack(strings.Replace(start, "START-1", "START-2", 1)); c != "AA" || e != "4" {
		t.Fatalf("link start after a restart: %s %s, want AA 4", c, e)
	}
	conn.Close()
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Reset with the gateway stopped: the stream starts again.
	if code, out := seqCmd("reset", "LAB|767543|FERRY|HIE"); code == 0 || !strings.Contains(out, "--yes") {
		t.Errorf("reset without --yes: %d %s", code, out)
	}
	if code, out := seqCmd("reset", "NOPE|X|FERRY|HIE", "--yes"); code == 0 || !strings.Contains(out, "no stream") {
		t.Errorf("reset of an unknown stream: %d %s", code, out)
	}
	if code, out := seqCmd("reset", "LAB|767543|FERRY|HIE", "--yes"); code != 0 || !strings.Contains(out, "last accepted 3") {
		t.Fatalf("sequences reset: %d %s", code, out)
	}
	if code, out := seqCmd("list"); code != 0 || !strings.Contains(out, "no sender uses HL7 sequence numbers") {
		t.Errorf("list after the reset: %d %s", code, out)
	}
	gw = runGateway(t, cfg)
	conn, rd = dial(t, gw)
	if c, e := ack(strings.Replace(start, "START-1", "START-3", 1)); c != "AA" || e != "-1" {
		t.Fatalf("link start after a reset: %s %s, want AA -1", c, e)
	}
}

// TestSequencesListenerNameWithSpace: a listener's name may hold a space
// ("lab adt"); `ferry sequences` split the store's key at the first
// space, so it listed the stream under listener "lab" as "adt LAB|…", and
// reset could not find it by its stream.
func TestSequencesListenerNameWithSpace(t *testing.T) {
	dir := t.TempDir()
	yml := fmt.Sprintf("data_dir: %q\nsources: {mllp: [{name: lab adt, listen: 127.0.0.1:0}]}\n", dir)
	cfgFile := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "%s", yml)
	st, err := mllp.OpenSequenceStore(cfg.Path(sequenceFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set("mllp/lab adt LAB|767543|FERRY|HIE", 5); err != nil {
		t.Fatal(err)
	}
	st.Close()
	seqCmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), append(append([]string{"sequences"}, args...), "--config", cfgFile), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := seqCmd("list"); code != 0 || !regexp.MustCompile(`lab adt\s+LAB\|767543\|FERRY\|HIE\s+5\s+6`).MatchString(out) {
		t.Errorf("sequences list: %d %s", code, out)
	}
	if code, out := seqCmd("reset", "LAB|767543|FERRY|HIE", "--yes", "--listener", "lab adt"); code != 0 || !strings.Contains(out, "listener lab adt (last accepted 5)") {
		t.Fatalf("sequences reset: %d %s", code, out)
	}
}
