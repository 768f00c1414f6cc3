package audit

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDTLSOctetCounting: RFC 6012 §5.4 defines what a DTLS record of
// syslog carries as APPLICATION-DATA = 1*SYSLOG-FRAME, SYSLOG-FRAME =
// MSG-LEN SP SYSLOG-MSG, and "a transport receiver MUST use the message
// length to delimit a syslog message"; ferry wrote each message bare, so a
// receiver that follows the RFC read "<85>1" where it wants a length and
// lost every event. Each record, read as the repository receives it, is
// now the message's length in octets, a space and the message, and a
// message cut to fit is cut before it is counted.
func TestDTLSOctetCounting(t *testing.T) {
	p := demoPKI(t)
	r, addr := startDTLSRepoFraming(t, p, true) // the records' bytes, as they come
	s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	long := exportN(1)
	long.OutcomeDesc = strings.Repeat("x", 9000)
	s.Record(long)
	recs := r.waitN(t, 2)
	var msgs [][]byte
	for i, rec := range recs {
		lenText, msg, ok := bytes.Cut(rec.record, []byte(" "))
		n, err := strconv.Atoi(string(lenText))
		if !ok || err != nil || n <= 0 || lenText[0] == '0' || n != len(msg) {
			t.Fatalf("record %d (%d octets) does not start with its MSG-LEN and SP: %.40q", i, len(rec.record), rec.record)
		}
		if len(rec.record) > maxDTLSRecord {
			t.Errorf("record %d is %d octets, more than %d", i, len(rec.record), maxDTLSRecord)
		}
		if _, err := Parse(msg); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		msgs = append(msgs, msg)
	}
	if a := parseAudit(t, msgs[0]); a.Event.ID.Code != "110106" {
		t.Errorf("first record: %+v", a)
	}
	if n := len(recs[1].record); n != maxDTLSRecord {
		t.Errorf("the cut record is %d octets, want %d", n, maxDTLSRecord)
	}
	waitStats(t, s, "truncated", func(st Stats) bool { return st.Truncated == 1 && st.Sent == 2 })
}

// TestDTLSBare: with DTLSBare (audit.dtls_framing bare) each record is the
// message alone, as rsyslog's imdtls takes it (every record one whole
// message, no MSG-LEN), and one cut to fit fills the record.
func TestDTLSBare(t *testing.T) {
	p := demoPKI(t)
	r, addr := startDTLSRepoFraming(t, p, true)
	s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), func(o *Options) { o.DTLSBare = true })
	start(t, s)
	s.Record(exportN(0))
	long := exportN(1)
	long.OutcomeDesc = strings.Repeat("x", 9000)
	s.Record(long)
	recs := r.waitN(t, 2)
	wantOrder(t, bundleOrder(t, recs[:1]), 0, 1)
	if n := len(recs[1].record); n != maxDTLSRecord || !bytes.HasPrefix(recs[1].record, []byte("<85>1 ")) {
		t.Errorf("the cut record is %d octets starting %.10q, want %d starting <85>1", n, recs[1].record, maxDTLSRecord)
	}
	waitStats(t, s, "truncated", func(st Stats) bool { return st.Truncated == 1 && st.Sent == 2 })
}
