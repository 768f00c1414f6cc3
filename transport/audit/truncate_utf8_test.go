package audit

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferry-health/ferry/config/configtls"
)

// TestTruncatedMessageStaysUTF8: a message cut to fit its datagram (udp)
// or DTLS record was cut at the byte limit, so a description in a
// language with letters beyond ASCII (two octets each in UTF-8) could end
// in half a letter. ferry's MSG starts with the BOM that declares it
// UTF-8, and RFC 5424 §6.4 makes such a MSG "MSG-UTF8 = BOM UTF-8-STRING"
// (RFC 3629 UTF-8): the message was malformed, and a receiver that checks
// its UTF-8 refuses or mangles it. It is now cut before the letter it
// would halve. Two events whose descriptions differ by one ASCII octet
// make sure one cut falls inside a letter, whatever the header's length.
func TestTruncatedMessageStaysUTF8(t *testing.T) {
	long := func(n int, pad string) Event {
		ev := exportN(n)
		ev.OutcomeDesc = pad + strings.Repeat("é", MaxUDPMessage)
		return ev
	}
	check := func(t *testing.T, msgs [][]byte, max int) {
		t.Helper()
		for i, m := range msgs {
			if len(m) > max || len(m) < max-utf8.UTFMax {
				t.Errorf("message %d is %d octets, want at most %d and no more than a letter less", i, len(m), max)
			}
			if !utf8.Valid(m) {
				t.Errorf("message %d is not UTF-8 after its cut: ends %q", i, m[len(m)-4:])
			}
		}
	}
	t.Run("udp", func(t *testing.T) {
		r, addr := startUDPRepo(t)
		s := newSink(t, "udp://"+addr, configtls.ClientConfig{}, filepath.Join(t.TempDir(), "spool"), nil)
		start(t, s)
		s.Record(long(0, ""))
		s.Record(long(1, "x"))
		var msgs [][]byte
		for _, m := range r.waitN(t, 2) {
			msgs = append(msgs, m.msg)
		}
		check(t, msgs, MaxUDPMessage)
		waitStats(t, s, "truncated", func(st Stats) bool { return st.Truncated == 2 && st.Sent == 2 })
		shutdown(t, s)
	})
	t.Run("dtls", func(t *testing.T) {
		p := demoPKI(t)
		r, addr := startDTLSRepoFraming(t, p, true) // the records' bytes
		s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
		start(t, s)
		s.Record(long(0, ""))
		s.Record(long(1, "x"))
		var msgs [][]byte
		for _, rec := range r.waitN(t, 2) {
			_, m, _ := bytes.Cut(rec.record, []byte(" "))
			if frames, err := dtlsFrames(rec.record); err != nil || len(frames) != 1 {
				t.Fatalf("record is not one SYSLOG-FRAME: %v", err)
			}
			msgs = append(msgs, m)
		}
		check(t, msgs, MaxDTLSMessage)
		shutdown(t, s)
	})
}
