package mllp

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestTLSSenderOnPlainListener: a sender set to MLLP over TLS and pointed
// at a listener without tls opens with a TLS ClientHello, whose bytes
// hold start and end blocks (0x0B begins the ec_point_formats extension,
// which nearly every client sends). Read as MLLP, they made "messages"
// that were handed on (quarantined at the gateway as messages without a
// header) and answered AE into the handshake, with nothing in the log
// saying the two sides disagree about TLS. The connection is now closed
// before anything of it is read as a message, with one warning a minute
// naming the mismatch; plain senders are served as before.
func TestTLSSenderOnPlainListener(t *testing.T) {
	_, cli := testTLS(t)
	rec := &recorder{}
	s, logs := startLogged(t, Config{}, rec)
	const tries = 3
	for i := 0; i < tries; i++ {
		c, err := tls.Dial("tcp", s.Addr().String(), cli)
		if err == nil {
			c.Close()
			t.Fatal("a TLS handshake with a listener without tls succeeded")
		}
	}
	waitStats(t, s, func(st Stats) bool { return st.Connections == tries && st.Open == 0 })
	if st := s.Stats(); st.Messages != 0 || st.Errors != 0 || len(rec.bodies()) != 0 {
		t.Errorf("a ClientHello was read as messages: stats %+v, consumer got %d", st, len(rec.bodies()))
	}
	out := logs.String()
	var warned []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "TLS") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "without tls") {
		t.Errorf("want one WARN naming the TLS mismatch for %d connections:\n%s", tries, out)
	}

	c := dial(t, s)
	if code, _ := msa(c.roundTrip(t, msg("P1"))); code != "AA" {
		t.Fatalf("plain sender after the TLS ones: %s", code)
	}
}
