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
	checkReport(t, gw, []string{`ferry_mllp_refused_total{source="t",reason="multi_message"} 1`},
		[]string{"1 frames refused for holding more than one message"})
}

// checkReport asserts that the gateway's /metrics holds every line of
// metrics and the `ferry status` text every phrase of status.
func checkReport(t *testing.T, gw *gateway, metrics, status []string) {
	t.Helper()
	var m, s strings.Builder
	writeMetrics(&m, gw.report())
	for _, want := range metrics {
		if !strings.Contains(m.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	st := gw.report()
	st.Online = true
	ops.PrintStatus(&s, &st)
	for _, want := range status {
		if !strings.Contains(s.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, s.String())
		}
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
	checkReport(t, gw, []string{`ferry_mllp_app_acks_requested_total{source="t"} 2`, `ferry_mllp_app_acks_sent_total{source="t"} 0`},
		[]string{"2 messages asked for an application ACK (MSH-16), which this listener does not send"})
}
