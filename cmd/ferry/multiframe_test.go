package main

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// TestGatewayMultiMessageFrame: a frame of two messages is refused whole
// (AR), nothing of it queued or quarantined, and the refusal shows in
// /metrics and `ferry status`, where an operator looks for a sender that
// needs fixing.
func TestGatewayMultiMessageFrame(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, adt(1)+adt(2)); got != "AR" {
		t.Fatalf("frame of two messages: MSA-1 %s, want AR", got)
	}
	if got := send(t, conn, rd, adt(3)); got != "AA" {
		t.Fatalf("next message: MSA-1 %s", got)
	}
	if st := gw.pipe.Stats(); st.Queued.Load() != 1 || st.Quarantined.Load() != 0 {
		t.Errorf("queued %d, quarantined %d", st.Queued.Load(), st.Quarantined.Load())
	}
	var metrics, status strings.Builder
	writeMetrics(&metrics, gw.report())
	if want := `ferry_mllp_refused_total{source="t",reason="multi_message"} 1`; !strings.Contains(metrics.String(), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	st := gw.report()
	st.Online = true
	ops.PrintStatus(&status, &st)
	if want := "1 frames refused for holding more than one message"; !strings.Contains(status.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, status.String())
	}
}

// TestGatewayAppAckRequestsInStatus: a listener without app_ack that gets
// messages asking for an application acknowledgement (here AL/AL, so the
// CA still comes) counts them in /metrics and says in `ferry status` what
// a sender waiting for one would need.
func TestGatewayAppAckRequestsInStatus(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)
	for i := 1; i <= 2; i++ {
		m := strings.Replace(adt(i), "|P|2.5.1\r", "|P|2.5.1|||AL|AL\r", 1)
		if got := send(t, conn, rd, m); got != "CA" {
			t.Fatalf("message %d: MSA-1 %s, want CA", i, got)
		}
	}
	var metrics, status strings.Builder
	writeMetrics(&metrics, gw.report())
	for _, want := range []string{`ferry_mllp_app_acks_requested_total{source="t"} 2`, `ferry_mllp_app_acks_sent_total{source="t"} 0`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	st := gw.report()
	st.Online = true
	ops.PrintStatus(&status, &st)
	if want := "2 messages asked for an application ACK (MSH-16), which this listener does not send"; !strings.Contains(status.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, status.String())
	}
}
