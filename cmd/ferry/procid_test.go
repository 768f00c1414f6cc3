package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestGatewayProcessingIDs: a listener takes the processing ids
// (MSH-11) its processing_ids lists, P by default. A training message
// sent to the production listener is answered AR with ERR-3 202 and
// quarantined, never queued for the exchange; the test listener, which
// lists T, queues it.
func TestGatewayProcessingIDs(t *testing.T) {
	paths, _, url := testPKI(t)
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
    - name: training
      listen: 127.0.0.1:0
      processing_ids: [P, T]
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, t.TempDir(), url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)
	training := strings.Replace(adt(1), "|CTRL-1|P|", "|CTRL-1|T|", 1)

	ack := func(listener, msg string) *hl7v2.Message {
		t.Helper()
		conn, err := net.Dial("tcp", gw.MLLPAddr(listener).String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := mllp.WriteFrame(conn, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		f, err := mllp.NewReader(bufio.NewReader(conn), 1<<20).ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := ack("t", training)
	if a.Get("MSA-1") != "AR" || a.Get("MSA-2") != "CTRL-1" || a.Get("ERR-3-1") != "202" || a.Get("ERR-2-1") != "MSH" || a.Get("ERR-2-3") != "11" {
		t.Fatalf("production listener, training message: MSA %s %s, ERR-3 %s, ERR-2 %s^%s",
			a.Get("MSA-1"), a.Get("MSA-2"), a.Get("ERR-3-1"), a.Get("ERR-2-1"), a.Get("ERR-2-3"))
	}
	if got := ack("t", adt(2)).Get("MSA-1"); got != "AA" {
		t.Fatalf("production listener, production message: %s", got)
	}
	if got := ack("training", training).Get("MSA-1"); got != "AA" {
		t.Fatalf("training listener, training message: %s", got)
	}
	ids, err := gw.pipe.Quarantine().List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("quarantine: %v %v", ids, err)
	}
	e, err := gw.pipe.Quarantine().Get(ids[0])
	if err != nil || e.Source != "mllp/t" || !strings.Contains(e.Reason, "processing id") {
		t.Fatalf("quarantine entry %+v: %v", e, err)
	}
	if st := gw.pipe.Stats(); st.Queued.Load() != 2 || st.Quarantined.Load() != 1 {
		t.Errorf("queued %d, quarantined %d", st.Queued.Load(), st.Quarantined.Load())
	}
}
