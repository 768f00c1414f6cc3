package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport/audit"
)

// TestGatewayHoldsRestricted: with exchange.hold [R], an ADT whose visit
// is protected (PV2-22 Y → R) is acknowledged AA, kept in <data>/held and
// never sent, and the decision reaches the ATNA repository; an unlabelled
// ADT on the same connection is delivered.
func TestGatewayHoldsRestricted(t *testing.T) {
	paths, recv, url := testPKI(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
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
  hold: [R, 42CFRPart2]
audit:
  url: udp://%s
  source_id: clinic-ferry
`, t.TempDir(), url, paths.CA, paths.ClientCert, paths.ClientKey, pc.LocalAddr())
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)

	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	if got := send(t, conn, rd, restricted); got != "AA" {
		t.Fatalf("restricted ADT: MSA-1 %s, want AA (held is stored)", got)
	}
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("plain ADT: MSA-1 %s", got)
	}
	waitFor(t, "plain ADT delivered", func() bool { return len(recv.Resources("MessageHeader")) == 1 })
	ids, err := gw.pipe.Held().List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held: %v %v", ids, err)
	}
	if e, _ := gw.pipe.Held().Get(ids[0]); e.Reason != "held by policy: R" {
		t.Fatalf("held entry reason %q", e.Reason)
	}
	for _, p := range recv.Resources("Patient") {
		if strings.Contains(string(p), "MRN-9") {
			t.Fatal("held patient reached the exchange")
		}
	}
	if got := gw.pipe.Stats().Held.Load(); got != 1 {
		t.Fatalf("Stats.Held %d", got)
	}

	// The held decision is an Export with outcome 4 naming the label.
	buf := make([]byte, 1<<16)
	found := false
	for !found {
		pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no held audit event: %v", err)
		}
		m, err := audit.Parse(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		s := string(m.Msg)
		if strings.Contains(s, "held by policy") {
			found = true
			for _, want := range []string{`csd-code="110106"`, `EventOutcomeIndicator="4"`, `held by policy: R; not sent`} {
				if !strings.Contains(s, want) {
					t.Errorf("held event lacks %s:\n%s", want, s)
				}
			}
			// The patient is named by its identifier (audit.patient_identity
			// identifier, the default), never by name.
			if !strings.Contains(s, `ParticipantObjectID="MRN-9^^^`) || strings.Contains(s, "Doe") {
				t.Errorf("held event does not name the patient by identifier, or carries the name:\n%s", s)
			}
		}
	}
}
