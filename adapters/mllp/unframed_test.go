package mllp

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestUnframedSenderWarned: a sender that writes its messages without MLLP
// framing (an interface set to raw TCP, or to another framing) gets no ACK
// and its messages go nowhere, so the log must say so at WARN: how many
// bytes came outside any frame and what the framing is, without quoting
// them (they are the message). A sender that frames its messages, with
// stray bytes between them, is not warned about.
func TestUnframedSenderWarned(t *testing.T) {
	rec := &recorder{}
	s, logs := startLogged(t, Config{}, rec)
	body := corpusMessage(t, "ADT-A01-01.hl7")
	want := 0
	for _, c := range body {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			want++
		}
	}

	c := dial(t, s)
	if _, err := c.Write(body); err != nil { // no start block, no end block
		t.Fatal(err)
	}
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	closedWithoutReply(t, c)

	framed := dial(t, s)
	if _, err := framed.Write([]byte("\x00\x00")); err != nil {
		t.Fatal(err)
	}
	if code, _ := msa(framed.roundTrip(t, msg("F1"))); code != "AA" {
		t.Fatalf("framed message: %s", code)
	}
	framed.Close()
	waitStats(t, s, func(st Stats) bool { return st.Open == 0 })

	out := logs.String()
	var warned []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "MLLP frame") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "bytes_outside_frames="+strconv.Itoa(want)) || !strings.Contains(warned[0], "0x0B") {
		t.Errorf("want one WARN on the unframed sender with bytes_outside_frames=%d:\n%s", want, out)
	}
	if strings.Contains(out, "PID") || strings.Contains(out, "1234567") {
		t.Errorf("log quotes the message:\n%s", out)
	}
	if len(rec.bodies()) != 1 {
		t.Errorf("consumer got %d messages", len(rec.bodies()))
	}
}
