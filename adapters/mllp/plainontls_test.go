package mllp

import (
	"strings"
	"testing"
)

// TestPlainSenderOnTLSListener: a sender left on plain MLLP after its
// listener was given tls fails every handshake, and an interface engine
// reconnects every few seconds: each connection logged its own WARN
// ("mllp tls handshake failed", Go's "first record does not look like a
// TLS handshake"), thousands a day. The warning names the mismatch and
// comes at most once a minute for the listener, as for a TLS sender on a
// plain listener; it is no node-authentication failure.
func TestPlainSenderOnTLSListener(t *testing.T) {
	srv, _ := testTLS(t)
	rec := &recorder{}
	s, logs := startLogged(t, Config{TLS: srv}, rec)
	const tries = 3
	for i := 0; i < tries; i++ {
		c := dial(t, s)
		_ = WriteFrame(c, msg("PLAIN"))
		closedWithoutReply(t, c)
	}
	waitStats(t, s, func(st Stats) bool { return st.TLSHandshakes == tries && st.Open == 0 })
	if n := len(rec.bodies()); n != 0 {
		t.Errorf("consumer got %d messages", n)
	}
	out := logs.String()
	var warned []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "plain MLLP") {
		t.Errorf("want one WARN naming plain MLLP on a tls listener for %d connections:\n%s", tries, out)
	}
	if strings.Contains(out, "PLAIN") {
		t.Errorf("log quotes the message:\n%s", out)
	}
}
