package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// startTestGateway runs a gateway on port 0 that delivers over mutual TLS
// to an in-process receiver, and returns both.
func startTestGateway(t *testing.T, dataDir string, recv *fhirrecv.Receiver, paths pki.Paths, url string) *gateway {
	t.Helper()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, dataDir, url, paths.CA, paths.ClientCert, paths.ClientKey)
	return runGateway(t, cfg)
}

// parseConfig parses the YAML that format and args make (fmt.Appendf) as
// a configuration, failing the test on an error.
func parseConfig(t testing.TB, format string, args ...any) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test", fmt.Appendf(nil, format, args...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runGateway starts a gateway for cfg and shuts it down when the test ends.
func runGateway(t *testing.T, cfg *config.Config) *gateway {
	t.Helper()
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	return gw
}

func testPKI(t *testing.T) (pki.Paths, *fhirrecv.Receiver, string) {
	t.Helper()
	paths, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	recv := fhirrecv.New()
	url, stop, err := serveReceiver(recv, paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return paths, recv, url
}

// send writes one message over MLLP and returns MSA-1.
func send(t *testing.T, conn net.Conn, rd *mllp.Reader, msg string) string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mllp.WriteFrame(conn, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	ack, err := rd.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7v2.Parse(ack)
	if err != nil {
		t.Fatalf("ACK unreadable: %v", err)
	}
	return m.Get("MSA-1")
}

func adt(i int) string {
	return fmt.Sprintf("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|CTRL-%d|P|2.5.1\r"+
		"EVN|A01|20261125083000\rPID|1||MRN-%d^^^CLINIC^MR||Doe^Pat%d||19800101|F\rPV1|1|O\r", i, i%7, i)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dial(t *testing.T, gw *gateway) (net.Conn, *mllp.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", gw.MLLPAddr("t").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, mllp.NewReader(bufio.NewReader(conn), 1<<20)
}

// TestGatewayOutageNothingLost: while the exchange answers 503, messages
// are still acknowledged (they are on disk), and once it recovers the
// queue drains and every message is at the exchange exactly once.
func TestGatewayOutageNothingLost(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)

	recv.SetFailure(http.StatusServiceUnavailable)
	const n = 30
	for i := 0; i < n; i++ {
		if got := send(t, conn, rd, adt(i)); got != "AA" {
			t.Fatalf("message %d: MSA-1 %s, want AA", i, got)
		}
	}
	waitFor(t, "retries during the outage", func() bool { return gw.disp.Stats().Retried > 0 })
	if recv.Bundles() != 0 {
		t.Fatalf("receiver applied %d bundles while failing", recv.Bundles())
	}
	recv.SetFailure(0)
	waitFor(t, "queue to drain", func() bool { return gw.q.Len() == 0 })
	if got := len(recv.Resources("MessageHeader")); got != n {
		t.Errorf("MessageHeaders at the exchange: %d, want %d", got, n)
	}
	if got := len(recv.Resources("Patient")); got != 7 {
		t.Errorf("Patients at the exchange: %d, want 7 (MRN-0..6)", got)
	}
	if dl := gw.q.Stats().DeadLetters; dl != 0 {
		t.Errorf("dead letters: %d", dl)
	}
}

// TestGatewayRestartRedelivers: items queued while the exchange is down
// survive a gateway restart on the same data directory.
func TestGatewayRestartRedelivers(t *testing.T) {
	paths, recv, url := testPKI(t)
	dir := t.TempDir()
	recv.SetFailure(http.StatusServiceUnavailable)
	gw := startTestGateway(t, dir, recv, paths, url)
	conn, rd := dial(t, gw)
	for i := 0; i < 10; i++ {
		if got := send(t, conn, rd, adt(i)); got != "AA" {
			t.Fatalf("MSA-1 %s", got)
		}
	}
	conn.Close()
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	recv.SetFailure(0)
	gw2 := startTestGateway(t, dir, recv, paths, url)
	waitFor(t, "queue to drain after restart", func() bool { return gw2.q.Len() == 0 })
	if got := len(recv.Resources("MessageHeader")); got != 10 {
		t.Errorf("MessageHeaders: %d, want 10", got)
	}
	// The same messages again: acknowledged, not queued twice.
	conn2, rd2 := dial(t, gw2)
	for i := 0; i < 10; i++ {
		if got := send(t, conn2, rd2, adt(i)); got != "AA" {
			t.Fatalf("resend MSA-1 %s", got)
		}
	}
	if d := gw2.pipe.Stats().Duplicates.Load(); d != 10 {
		t.Errorf("duplicates recognised after restart: %d, want 10", d)
	}
}

// TestGatewayBadMessageQuarantined: AE with ERR, the raw message kept.
func TestGatewayBadMessageQuarantined(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)
	bad := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|BAD-1|P|2.5.1\rPID|1||||Doe^Pat\r"
	if got := send(t, conn, rd, bad); got != "AE" {
		t.Fatalf("MSA-1 %s, want AE", got)
	}
	unsupported := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ZZZ^Z99|UNS-1|P|2.5.1\rPID|1||1^^^A^MR||Doe^Pat\r"
	if got := send(t, conn, rd, unsupported); got != "AR" {
		t.Fatalf("unsupported type: MSA-1 %s, want AR", got)
	}
	ids, err := gw.pipe.Quarantine().List()
	if err != nil || len(ids) != 2 {
		t.Fatalf("quarantine: %v %v", ids, err)
	}
	e, _ := gw.pipe.Quarantine().Get(ids[0])
	if !bytes.Contains(e.Raw, []byte("BAD-1")) || !strings.Contains(e.Reason, "PID-3") {
		t.Errorf("quarantine entry: reason %q", e.Reason)
	}
}

// TestGatewayStatusChangeFinal: a lab's OBX-11 "U" without a value (the
// preliminary result sent before is now final) reaches the exchange as a
// PATCH of the stored Observation's status: the value stays, the status
// becomes final. A status change for a result the exchange never got is
// dead-lettered on its own with the exchange's 404, and the report it came
// with is delivered.
func TestGatewayStatusChangeFinal(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)
	oru := func(ctrl, obr25, obx string) string {
		return "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20261125083000||ORU^R01^ORU_R01|" + ctrl + "|P|2.5.1\r" +
			"PID|1||MRN-U1^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
			"OBR|1|ORD-U1|FIL-U1|24323-8^Panel^LN|||20261125080000|||||||||||||||20261125083000|||" + obr25 + "\r" + obx
	}
	prelim := oru("U-1", "P", "OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H|||P\r")
	final := oru("U-2", "F", "OBX|1|NM|2345-7^Glucose^LN||||||||U\r")
	for _, m := range []string{prelim, final} {
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("MSA-1 %s, want AA", got)
		}
	}
	waitFor(t, "queue to drain", func() bool { return gw.q.Len() == 0 })
	obs := recv.Resources("Observation")
	if len(obs) != 1 {
		t.Fatalf("%d Observations at the exchange, want 1", len(obs))
	}
	var o struct {
		Status        string `json:"status"`
		ValueQuantity struct {
			Value float64 `json:"value"`
		} `json:"valueQuantity"`
	}
	if err := json.Unmarshal(obs[0], &o); err != nil {
		t.Fatal(err)
	}
	if o.Status != "final" || o.ValueQuantity.Value != 105 {
		t.Errorf("Observation after the status change: status %q, value %v; want final, 105", o.Status, o.ValueQuantity.Value)
	}
	if dl := gw.q.Stats().DeadLetters; dl != 0 {
		t.Fatalf("dead letters: %d", dl)
	}

	// A status change for a result the exchange does not hold.
	orphan := oru("U-3", "F", "OBX|1|NM|2160-0^Creatinine^LN||||||||U\r")
	if got := send(t, conn, rd, orphan); got != "AA" {
		t.Fatalf("MSA-1 %s, want AA", got)
	}
	waitFor(t, "the orphan status change to be dead-lettered", func() bool { return gw.q.Stats().DeadLetters == 1 })
	dls, err := gw.q.DeadLetters()
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %v %v", dls, err)
	}
	t.Logf("dead letter reason: %s", dls[0].Reason)
	if !strings.Contains(dls[0].Reason, "404") || dls[0].Attrs["control_id"] != "U-3" {
		t.Errorf("dead letter: reason %q, attrs %v", dls[0].Reason, dls[0].Attrs)
	}
	if got := len(recv.Resources("MessageHeader")); got != 3 {
		t.Errorf("MessageHeaders at the exchange: %d, want 3 (the orphan's report delivered)", got)
	}
}

// TestDemo runs `ferry demo` and checks what it reports.
func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdDemo(context.Background(), nil, &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{"01-adt-a01.hl7             → AA", "04-adt-no-identifier.hl7   → AE", "Observation        3", "1 duplicate(s)"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	// It names the quarantine folder, which is gone once it returns
	// without --keep: the output says so.
	i := strings.Index(s, " quarantined in ")
	if i < 0 {
		t.Fatalf("no quarantine folder named:\n%s", s)
	}
	quar := strings.Fields(s[i+len(" quarantined in "):])[0]
	if _, err := os.Stat(quar); err == nil {
		t.Fatalf("%s kept without --keep", quar)
	}
	dir := filepath.Dir(filepath.Dir(quar))
	if !strings.Contains(s, dir+" is removed now; ferry demo --keep keeps it") {
		t.Errorf("demo output does not say %s is removed:\n%s", dir, s)
	}
	// The demo's own configuration, which listens on a free port of
	// loopback, is not the contractor's to fix: a warning about it ("port
	// 0 ... give the port the senders send to") tells them to change a file
	// they never wrote.
	if strings.Contains(errb.String(), "configuration:") {
		t.Errorf("the demo warns about its own configuration:\n%s", errb.String())
	}
}
