package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestGatewayQueueMaxItems: with queue.max_items reached (the exchange
// down, bundles piling up), a new message is answered AR, the "not
// stored, send it again later" answer a full disk cap also gives, and it
// is not lost: once the queue drains, the sender's resend is accepted and
// delivered.
func TestGatewayQueueMaxItems(t *testing.T) {
	paths, recv, url := testPKI(t)
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
queue:
  max_items: 3
`, t.TempDir(), url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)

	recv.SetFailure(http.StatusServiceUnavailable)
	for i := range 3 {
		if got := send(t, conn, rd, adt(i)); got != "AA" {
			t.Fatalf("message %d: MSA-1 %s, want AA", i, got)
		}
	}
	if got := send(t, conn, rd, adt(3)); got != hl7v2.CodeAR {
		t.Fatalf("message beyond queue.max_items: MSA-1 %s, want AR", got)
	}
	if n := gw.q.Len(); n != 3 {
		t.Fatalf("queue holds %d items, want 3", n)
	}
	// The operator sees it: status text, page and metrics.
	r := gw.report()
	if !strings.Contains(r.Queue.Full, "queue.max_items is 3") || r.Queue.FullRefusals != 1 {
		t.Fatalf("queue stats while full: %+v", r.Queue)
	}
	var metrics strings.Builder
	writeMetrics(&metrics, r)
	for _, want := range []string{"ferry_queue_full 1", "ferry_queue_full_refusals_total 1"} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	recv.SetFailure(0)
	waitFor(t, "queue to drain", func() bool { return gw.q.Len() == 0 })
	// The sender still has the refused message and sends it again.
	if got := send(t, conn, rd, adt(3)); got != "AA" {
		t.Fatalf("resent message: MSA-1 %s, want AA", got)
	}
	waitFor(t, "the resent message to be delivered", func() bool { return gw.q.Len() == 0 })
	if full := gw.report().Queue.Full; full != "" {
		t.Errorf("queue still reported full after a Put was admitted: %s", full)
	}
	var pats []string
	for _, r := range recv.Resources("Patient") {
		pats = append(pats, string(r))
	}
	if len(pats) != 4 || !strings.Contains(strings.Join(pats, "\n"), `"MRN-3"`) {
		t.Fatalf("Patients at the exchange: %d, want 4 including MRN-3 (the refused, resent message)", len(pats))
	}
}
