package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampleEvents are events of every builder, filled as the Sink fills them
// (source id, site, time), with a time in a zone other than UTC and below
// the millisecond.
func sampleEvents(t time.Time) []Event {
	evs := []Event{
		exportN(3),
		ExportEvent(Export{Gateway: "ferry", GatewayAddr: "gw.local", ExchangeURL: "mllps://hie:6661", ExchangeAddr: "hie",
			V2MessageType: "ADT^A01", Patient: "MRN1^^^HOSP", IDType: IDPatientNumber, BundleID: "01X", Outcome: OutcomeSeriousFail,
			OutcomeDesc: "exchange answered AE"}),
		ImportEvent(Import{Sender: "LAB^HOSP", SenderAddr: "10.0.0.7", Gateway: "ferry-clinic-1", GatewayAddr: "gw.local",
			Format: "hl7v2", MessageType: "ORU^R01", ControlID: "C1", Input: "sha256:9f86d081884c7d65", Patient: "8f2c0a", IDType: IDPatientKey}),
		ImportEvent(Import{Sender: "folder/fax", Gateway: "ferry-clinic-1", Format: "fax", ControlID: "C2",
			Operator: &Operator{UserID: "alice", AltUserID: "uid 1000", UserName: "root", Address: "clinic-pc"}}),
		OperatorEvent(OperatorAction{Kind: OpHeldRelease, Operator: Operator{UserID: "bob", Address: "::1"},
			Gateway: "ferry-clinic-1", GatewayAddr: "gw.local", ExchangeURL: "https://hie/fhir", ExchangeAddr: "hie",
			Patient: "8f2c0a", ControlID: "C3", Object: "01HELD", ObjectType: IDHeldBundle, QueueID: "01QUEUE", Label: "R"}),
		LoginFailure(Operator{UserID: "ops-api", AltUserID: "mallory", Address: "192.0.2.9"}, "ferry-clinic-1", "gw.local",
			`wrong token <&"'>`, time.Time{}),
	}
	for i := range evs {
		evs[i].AuditSourceID, evs[i].AuditSite, evs[i].Time = "ferry-clinic-1", "Main Street Clinic", t.Add(time.Duration(i)*time.Second)
	}
	return evs
}

func mustEndpoint(t *testing.T, url string) endpoint {
	t.Helper()
	ep, err := parseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// TestRecordEncodesAsAtRecordTime: a record encoded when it is sent gives
// the bytes encoding the event when it was recorded gave, for both kinds
// of repository, with the recording process's PROCID; and the event comes
// back from its record whole.
func TestRecordEncodesAsAtRecordTime(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("EST", -5*3600))
	recorder := Header{Hostname: "gw", ProcID: "4242"}
	sender := Header{Hostname: "gw", ProcID: "777"} // a later gateway
	for i, ev := range sampleEvents(when) {
		rec, err := marshalRecord(recorder.ProcID, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(rec, []byte("ferry-audit-event/1\n{")) {
			t.Fatalf("record %d begins %.30q", i, rec)
		}
		var r record
		if err := json.Unmarshal(rec[len(recordMagic):], &r); err != nil {
			t.Fatal(err)
		}
		if !r.Event.Time.Equal(ev.Time) {
			t.Errorf("event %d: time %v came back as %v", i, ev.Time, r.Event.Time)
		}
		back := r.Event
		back.Time = ev.Time
		if !reflect.DeepEqual(back, ev) || r.ProcID != "4242" {
			t.Errorf("event %d came back as\n %+v\nwant\n %+v", i, back, ev)
		}
		for _, url := range []string{"tls://repo:6514", "https://repo/fhir"} {
			ep := mustEndpoint(t, url)
			want, err := ep.encode(recorder, &ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ep.send(sender, rec)
			if err != nil {
				t.Fatalf("event %d to %s: %v", i, url, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("event %d to %s:\n%s\nwant\n%s", i, url, got, want)
			}
		}
	}
}

// TestRecordKeepsRawDetail: a detail value that is not UTF-8 (a Latin-1
// control id) reaches the DICOM message byte for byte, as the value is
// base64 encoded there.
func TestRecordKeepsRawDetail(t *testing.T) {
	ev := sampleEvents(time.Now())[0]
	ev.Objects[0].Details[0].Value = "MSG\xe9\xff01"
	rec, err := marshalRecord("1", &ev)
	if err != nil {
		t.Fatal(err)
	}
	ep := mustEndpoint(t, "udp://repo")
	want, _ := ep.encode(Header{ProcID: "1"}, &ev)
	if got, err := ep.send(Header{}, rec); err != nil || !bytes.Equal(got, want) {
		t.Errorf("send = %v\n%s\nwant\n%s", err, got, want)
	}
}

// TestLegacyRecords: a message an earlier ferry spooled goes unchanged to
// a repository of its kind and is converted for the other kind to exactly
// what encoding the event for it gives (the time is whole milliseconds, as
// the old message kept no more); what is neither is refused with a reason.
func TestLegacyRecords(t *testing.T) {
	h := Header{Hostname: "gw", ProcID: "4242"}
	syslog, fhir := mustEndpoint(t, "tls://repo:6514"), mustEndpoint(t, "https://repo/fhir")
	when := time.Date(2026, 3, 4, 5, 6, 7, 123000000, time.UTC)
	for i, ev := range sampleEvents(when) {
		oldSyslog, err := syslog.encode(h, &ev)
		if err != nil {
			t.Fatal(err)
		}
		oldFHIR, err := fhir.encode(h, &ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			ep        endpoint
			old, want []byte
		}{
			{"syslog to syslog", syslog, oldSyslog, oldSyslog},
			{"FHIR to FHIR", fhir, oldFHIR, oldFHIR},
			{"syslog to FHIR", fhir, oldSyslog, oldFHIR},
			{"FHIR to syslog", syslog, oldFHIR, oldSyslog},
		} {
			got, err := c.ep.send(h, c.old)
			if err != nil {
				t.Errorf("event %d, %s: %v", i, c.name, err)
				continue
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("event %d, %s:\n%s\nwant\n%s", i, c.name, got, c.want)
			}
		}
	}
	for _, c := range []struct {
		rec  string
		want error
	}{
		{"ferry-audit-event/2\n{}", errRecordVersion},
		{"ferry-audit-event/1\n{not json", errRecordDamaged},
		{"record 0001", errRecordUnknown},
		{"", errRecordUnknown},
		{"{\"resourceType\":\"Patient\"}", errLegacyFHIR},
		{"<85>1 garbage", nil}, // a syslog repository takes what ferry once sent it
	} {
		_, err := syslog.send(h, []byte(c.rec))
		if err != c.want {
			t.Errorf("send(%q) to syslog = %v, want %v", c.rec, err, c.want)
		}
	}
	if _, err := fhir.send(h, []byte("<85>1 garbage")); err != errLegacySyslog {
		t.Errorf("a damaged syslog message to FHIR: %v", err)
	}
}

// TestSpoolSwitchSyslogToFHIR: events spooled while a syslog repository
// is down, and hand-off files a command left then, are all delivered as
// AuditEvents after the gateway restarts with an https FHIR base, in
// order and none dropped; the AuditEvents are those the events give.
func TestSpoolSwitchSyslogToFHIR(t *testing.T) {
	p := demoPKI(t)
	dir := t.TempDir()
	spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
	when := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	syslogURL := "tls://" + reserveAddr(t)

	s1 := newSink(t, syslogURL, clientTLS(p), spoolDir, nil)
	start(t, s1)
	var want [][]byte
	for i := range 4 {
		ev := exportN(i)
		ev.Time = when.Add(time.Duration(i) * time.Millisecond)
		s1.Record(ev)
		ev.AuditSourceID = "ferry-clinic-1"
		b, err := ev.FHIR()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	waitStats(t, s1, "four spooled", func(st Stats) bool { return st.Spooled == 4 })
	shutdown(t, s1)

	e := newEmitter(t, syslogURL, Options{TLS: clientTLS(p), HandoffDir: handoff})
	for _, id := range []string{"H1", "H2"} {
		if n, err := e.Emit(context.Background(), purgeEvent(id)); err != nil || n != 1 {
			t.Fatalf("Emit = %d, %v", n, err)
		}
	}
	e.Close()

	r := &fhirRepo{}
	url := startFHIRRepo(t, p, r)
	s2 := newSink(t, url, clientTLS(p), spoolDir, func(o *Options) { o.HandoffDir = handoff })
	start(t, s2)
	st := waitStats(t, s2, "six sent", func(st Stats) bool { return st.Sent == 6 && st.Pending == 0 })
	if st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.raw) != 6 {
		t.Fatalf("repository stored %d AuditEvents, want 6", len(r.raw))
	}
	for i, w := range want {
		if !bytes.Equal(r.raw[i], w) {
			t.Errorf("AuditEvent %d:\n%s\nwant\n%s", i, r.raw[i], w)
		}
	}
	for i, id := range []string{"H1", "H2"} {
		if b := r.raw[4+i]; !bytes.Contains(b, []byte(`"value":"`+id+`"`)) || !bytes.Contains(b, []byte(`"code":"dead-letter-purge"`)) {
			t.Errorf("hand-off event %d: %s", i, b)
		}
	}
}

// TestSpoolSwitchFHIRToSyslog: the reverse. Events spooled while the FHIR
// base is unreachable, and hand-off files left then, reach a TLS syslog
// repository as RFC 5424 messages with the events' DICOM XML, in order.
func TestSpoolSwitchFHIRToSyslog(t *testing.T) {
	p := demoPKI(t)
	dir := t.TempDir()
	spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
	when := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	fhirURL := "https://" + reserveAddr(t) + "/fhir"

	s1 := newSink(t, fhirURL, clientTLS(p), spoolDir, nil)
	start(t, s1)
	var evs []Event
	for i := range 4 {
		ev := exportN(i)
		ev.Time = when.Add(time.Duration(i) * time.Millisecond)
		s1.Record(ev)
		ev.AuditSourceID = "ferry-clinic-1"
		evs = append(evs, ev)
	}
	waitStats(t, s1, "four spooled", func(st Stats) bool { return st.Spooled == 4 })
	header := s1.header
	shutdown(t, s1)

	e := newEmitter(t, fhirURL, Options{TLS: clientTLS(p), HandoffDir: handoff})
	if n, err := e.Emit(context.Background(), purgeEvent("H1"), purgeEvent("H2")); err != nil || n != 2 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	e.Close()

	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	s2 := newSink(t, "tls://"+addr, clientTLS(p), spoolDir, func(o *Options) { o.HandoffDir = handoff })
	start(t, s2)
	msgs := r.waitN(t, 6)
	wantOrder(t, bundleOrder(t, msgs[:4]), 0, 4)
	for i, ev := range evs {
		x, _ := ev.XML()
		if want := header.Format(ev.Time, x); !bytes.Equal(msgs[i].msg, want) {
			t.Errorf("message %d:\n%q\nwant\n%q", i, msgs[i].msg, want)
		}
	}
	for i, id := range []string{"H1", "H2"} {
		a := parseAudit(t, msgs[4+i].msg)
		if a.Event.Type[0].Code != "dead-letter-purge" || a.Objects[1].ID != id {
			t.Errorf("hand-off message %d = %+v", i, a)
		}
	}
	shutdown(t, s2)
	if st := s2.Stats(); st.Sent != 6 || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// writeLegacy fills a spool and a hand-off directory as an earlier ferry
// did: with messages encoded for ep when recorded. It returns them.
func writeLegacy(t *testing.T, ep endpoint, h Header, spoolDir, handoff string, from, n int) [][]byte {
	t.Helper()
	var msgs [][]byte
	for i := from; i < from+n; i++ {
		ev := exportN(i)
		ev.AuditSourceID, ev.Time = "ferry-clinic-1", time.Date(2026, 1, 1, 0, 0, 0, i*int(time.Millisecond), time.UTC)
		m, err := ep.encode(h, &ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	sp, err := openSpool(spoolDir, DefaultMaxSpoolBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Append(msgs[:n-1]); err != nil {
		t.Fatal(err)
	}
	sp.Close()
	if err := writeHandoff(handoff, msgs[n-1:]); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestLegacySpoolSentUnchanged: an upgraded gateway sends the syslog
// messages an earlier version left in its spool and hand-off directory to
// its syslog repository byte for byte, behind them its own events, and a
// record it cannot read is dropped and counted without holding up the
// rest.
func TestLegacySpoolSentUnchanged(t *testing.T) {
	p := demoPKI(t)
	dir := t.TempDir()
	spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
	mustMkdir(t, handoff)
	old := writeLegacy(t, mustEndpoint(t, "tls://repo:6514"), Header{Hostname: "old-gw", ProcID: "99"}, spoolDir, handoff, 0, 3)
	// Behind them: a record that is no audit record, and an event no
	// encoding takes (it has no participant).
	unencodable, err := marshalRecord("1", &Event{ID: EventExport, AuditSourceID: "ferry-clinic-1", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := openSpool(spoolDir, DefaultMaxSpoolBytes)
	if _, err := sp.Append([][]byte{[]byte("not an audit record"), unencodable}); err != nil {
		t.Fatal(err)
	}
	sp.Close()

	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	var logs syncBuffer
	s := newSink(t, "tls://"+addr, clientTLS(p), spoolDir, func(o *Options) {
		o.HandoffDir = handoff
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, s)
	// The three kept, then the report of the two lost (TestLossReported).
	waitStats(t, s, "the spool sent", func(st Stats) bool { return st.Pending == 0 && st.Sent == 4 })
	s.Record(exportN(3))
	msgs := r.waitN(t, 5)
	for i, m := range old {
		if !bytes.Equal(msgs[i].msg, m) {
			t.Errorf("message %d was changed:\n%q\nwant\n%q", i, msgs[i].msg, m)
		}
	}
	if a := parseAudit(t, msgs[3].msg); a.Event.ID.Code != "110113" {
		t.Errorf("message 3 is %+v, want the loss report", a.Event)
	}
	wantOrder(t, bundleOrder(t, msgs), 0, 4)
	shutdown(t, s)
	if st := s.Stats(); st.Sent != 5 || st.Dropped != 2 {
		t.Errorf("stats = %+v, want 5 sent and the two bad records dropped", st)
	}
	for _, want := range []string{errRecordUnknown.Error(), "no active participant"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs.String())
		}
	}
}

// syncBuffer is a bytes.Buffer the sender goroutine may log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLegacySpoolConverted: FHIR AuditEvents an earlier version spooled
// for an https base reach the syslog repository the gateway now has, as
// the events' syslog messages; and syslog messages reach a FHIR base as
// AuditEvents.
func TestLegacySpoolConverted(t *testing.T) {
	p := demoPKI(t)
	t.Run("FHIR to syslog", func(t *testing.T) {
		dir := t.TempDir()
		spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
		mustMkdir(t, handoff)
		writeLegacy(t, mustEndpoint(t, "https://repo/fhir"), Header{}, spoolDir, handoff, 0, 3)
		r, addr := startTLSRepo(t, p, "127.0.0.1:0")
		s := newSink(t, "tls://"+addr, clientTLS(p), spoolDir, func(o *Options) { o.HandoffDir = handoff })
		start(t, s)
		msgs := r.waitN(t, 3)
		wantOrder(t, bundleOrder(t, msgs), 0, 3)
		shutdown(t, s)
		if st := s.Stats(); st.Sent != 3 || st.Dropped != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("syslog to FHIR", func(t *testing.T) {
		dir := t.TempDir()
		spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
		mustMkdir(t, handoff)
		old := writeLegacy(t, mustEndpoint(t, "tls://repo:6514"), Header{Hostname: "old-gw", ProcID: "99"}, spoolDir, handoff, 0, 3)
		r := &fhirRepo{}
		url := startFHIRRepo(t, p, r)
		s := newSink(t, url, clientTLS(p), spoolDir, func(o *Options) { o.HandoffDir = handoff })
		start(t, s)
		waitStats(t, s, "three sent", func(st Stats) bool { return st.Sent == 3 && st.Pending == 0 })
		shutdown(t, s)
		if st := s.Stats(); st.Dropped != 0 {
			t.Errorf("stats = %+v", st)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, m := range old {
			ev, err := decodeSyslog(m)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ev.FHIR()
			if i >= len(r.raw) || !bytes.Equal(r.raw[i], want) || !strings.Contains(string(want), fmt.Sprintf("bundle-%05d", i)) {
				t.Errorf("AuditEvent %d differs from the converted message", i)
			}
		}
	})
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}
