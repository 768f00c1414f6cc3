package mllp

import (
	"slices"
	"strings"
	"testing"
)

// TestSourceAcknowledgementNotAnswered: an acknowledgement a sender sends
// the listener (MSH-9 ACK: a sender that acknowledges everything it gets
// answers ferry's application acknowledgement so, though its MSH-15 is NE)
// is no message to store, and in original mode no answer is due for it:
// answered, a sender that acknowledges everything would acknowledge the
// answer, and the two would go on without end, each ACK stored (in the
// gateway, quarantined as an unsupported type). It reaches no consumer and
// gets nothing back; one in enhanced mode gets the accept acknowledgement
// its MSH-15 asks for; the messages around them are answered as ever.
func TestSourceAcknowledgementNotAnswered(t *testing.T) {
	rec := ackRecorder()
	s := start(t, Config{AppAck: true}, rec)
	c := dial(t, s)

	segs := c.roundTrip(t, enhanced("E1", "NE", "AL"))
	if code, id := msa(segs); code != "AA" || id != "E1" {
		t.Fatalf("application ACK %q", segs)
	}
	appAckID := segs[0][9] // MSH-10
	ackOf := func(id, m15 string) []byte {
		return []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120001||ACK^A01^ACK|" + id + "|P|2.5.1|||" + m15 + "\rMSA|CA|" + appAckID + "\r")
	}
	var all []byte
	all = AppendFrame(all, ackOf("S1", ""))   // original mode: no answer
	all = AppendFrame(all, ackOf("S2", "NE")) // enhanced, none wanted
	all = AppendFrame(all, ackOf("S3", "AL")) // enhanced, CA wanted
	// MSH alone, as a link start is (its MSH-9 "not used"): no
	// acknowledgement, handled as before.
	all = AppendFrame(all, []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120002||ACK|L0|P|2.5.1|0\r"))
	all = AppendFrame(all, msg("M2"))
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"S3", "L0", "M2"} {
		segs := c.ack(t)
		code, id := msa(segs)
		if wantCode := map[string]string{"S3": "CA", "L0": "AA", "M2": "AA"}[want]; code != wantCode || id != want {
			t.Fatalf("got MSA %s %s, want %s %s (an acknowledgement answered?)", code, id, wantCode, want)
		}
	}
	for _, b := range rec.bodies() {
		if strings.Contains(b, "\rMSA|") {
			t.Errorf("an acknowledgement reached the consumer: %q", b)
		}
	}
	if got := rec.bodies(); len(got) != 3 || !slices.ContainsFunc(got, func(b string) bool { return strings.Contains(b, "|M2|") }) {
		t.Errorf("consumer got %d messages, want E1, L0 and M2", len(got))
	}
	if st := s.Stats(); st.Messages != 3 {
		t.Errorf("Stats.Messages = %d, want 3", st.Messages)
	}
}
