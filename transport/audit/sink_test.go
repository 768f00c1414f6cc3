package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

func demoPKI(t testing.TB) pki.Paths {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func clientTLS(p pki.Paths) configtls.ClientConfig {
	return configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
}

// exportN is the n-th test delivery event; its bundle id carries n so
// tests can check order.
func exportN(n int) Event {
	return ExportEvent(Export{
		Gateway: "ferry-test", GatewayAddr: "127.0.0.1",
		ExchangeURL: "https://hie.example/fhir", ExchangeAddr: "hie.example",
		MHD: true, Patient: "8f2c0a", IDType: IDPatientKey, ControlID: fmt.Sprintf("MSG%05d", n),
		SubmissionSet: "urn:oid:1.2.3." + fmt.Sprint(n), BundleID: fmt.Sprintf("bundle-%05d", n),
	})
}

func newSink(t testing.TB, url string, tc configtls.ClientConfig, spool string, mut func(*Options)) *Sink {
	t.Helper()
	o := Options{URL: url, TLS: tc, SourceID: "ferry-clinic-1", SpoolDir: spool, RedialInterval: 20 * time.Millisecond, Timeout: 5 * time.Second}
	if mut != nil {
		mut(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func start(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func shutdown(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitStats polls Stats until cond holds; the deadline only stops a hung
// test.
func waitStats(t *testing.T, s *Sink, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func bundleOrder(t *testing.T, msgs []received) []string {
	t.Helper()
	var ids []string
	for _, m := range msgs {
		a := parseAudit(t, m.msg)
		for _, o := range a.Objects {
			if o.IDType.Code == "Bundle" {
				ids = append(ids, o.ID)
			}
			// An ITI-65 export (exportN) names its bundle as a detail
			// of the submission set.
			for _, d := range o.Details {
				if v, err := base64.StdEncoding.DecodeString(d.Value); err == nil && d.Type == "X-Request-Id" {
					ids = append(ids, string(v))
				}
			}
		}
	}
	return ids
}

func wantOrder(t *testing.T, got []string, from, to int) {
	t.Helper()
	var want []string
	for i := from; i < to; i++ {
		want = append(want, fmt.Sprintf("bundle-%05d", i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("delivered\n %v\nwant\n %v", got, want)
	}
}

// TestTLSDelivers sends over mutual TLS to a crypto/tls repository and
// checks the RFC 5425 framing, the RFC 5424 header and the ATNA content.
func TestTLSDelivers(t *testing.T) {
	p := demoPKI(t)
	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	s := newSink(t, "tls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	s.Record(ImportEvent(Import{Sender: "LAB^HOSP", SenderAddr: "10.0.0.7", Gateway: "ferry-clinic-1", GatewayAddr: "gw.local",
		Format: "hl7v2", MessageType: "ORU^R01", ControlID: "C1", Input: "sha256:9f86d081884c7d65", Patient: "8f2c0a", IDType: IDPatientKey}))
	msgs := r.waitN(t, 2)
	if !msgs[0].clientCert {
		t.Error("repository saw no client certificate")
	}
	a := parseAudit(t, msgs[0].msg)
	if a.Event.ID.Code != "110106" || a.Event.ID.System != "DCM" || a.Event.Action != "R" || a.Event.Outcome != "0" {
		t.Errorf("event identification = %+v", a.Event)
	}
	if len(a.Event.Type) != 1 || a.Event.Type[0].Code != "ITI-65" {
		t.Errorf("event type = %+v", a.Event.Type)
	}
	if _, err := time.Parse(time.RFC3339, a.Event.DateTime); err != nil {
		t.Errorf("EventDateTime %q: %v", a.Event.DateTime, err)
	}
	if len(a.Participants) != 2 || a.Participants[0].Role.Code != "110153" || a.Participants[0].Requestor != "true" ||
		a.Participants[0].NAPID != "127.0.0.1" || a.Participants[0].NAPType != "2" ||
		a.Participants[1].Role.Code != "110152" || a.Participants[1].UserID != "https://hie.example/fhir" || a.Participants[1].NAPType != "1" {
		t.Errorf("participants = %+v", a.Participants)
	}
	if a.Source.ID != "ferry-clinic-1" || a.Source.Type.Code != "4" {
		t.Errorf("audit source = %+v", a.Source)
	}
	if len(a.Objects) != 2 {
		t.Fatalf("objects = %+v", a.Objects)
	}
	if d := a.Objects[1].Details; len(d) != 1 || d[0].Type != "X-Request-Id" || d[0].Value != base64.StdEncoding.EncodeToString([]byte("bundle-00000")) {
		t.Errorf("submission set details = %+v", d)
	}
	pat := a.Objects[0]
	if pat.ID != "8f2c0a" || pat.TypeCode != "1" || pat.Role != "1" || len(pat.Details) != 1 || pat.Details[0].Type != "MSH-10" ||
		pat.Details[0].Value != base64.StdEncoding.EncodeToString([]byte("MSG00000")) {
		t.Errorf("patient object = %+v", pat)
	}
	if ss := a.Objects[1]; ss.ID != "urn:oid:1.2.3.0" || ss.Role != "20" || ss.IDType.Code != IDSubmissionSet.Code {
		t.Errorf("submission set object = %+v", ss)
	}
	b := parseAudit(t, msgs[1].msg)
	if b.Event.ID.Code != "110107" || b.Event.Action != "C" || b.Event.Type[0].Code != "ORU^R01" || b.Participants[0].UserID != "LAB^HOSP" {
		t.Errorf("import event = %+v", b)
	}
	shutdown(t, s)
	// Events recorded while the first dial runs wait in the spool
	// (TestSlowDialKeepsEvents), so Spooled may count them.
	st := s.Stats()
	if st.Sent != 2 || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestTLSRequiresClientCert: a sink without a client certificate cannot
// deliver; its events stay in the spool and the error is reported.
func TestTLSRequiresClientCert(t *testing.T) {
	p := demoPKI(t)
	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	s := newSink(t, "tls://"+addr, configtls.ClientConfig{CAFile: p.CA}, filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	// The event may be spooled before the dial fails (it runs on its own
	// goroutine): wait for both.
	st := waitStats(t, s, "spooled and the refusal reported", func(st Stats) bool { return st.Spooled == 1 && st.LastError != "" })
	if st.Sent != 0 || st.Pending != 1 || st.LastError == "" {
		t.Errorf("stats = %+v", st)
	}
	if msgs, _ := r.snapshot(); len(msgs) != 0 {
		t.Errorf("repository accepted %d messages from an unauthenticated client", len(msgs))
	}
}

// reserveAddr returns a loopback address nobody listens on (yet).
func reserveAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSpoolSurvivesRestart: with the repository down, events are spooled
// durably; a new Sink on the same spool (a gateway restart) keeps them,
// adds its own behind them, and delivers all in order once the repository
// comes up.
func TestSpoolSurvivesRestart(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := filepath.Join(t.TempDir(), "audit", "spool")

	s1 := newSink(t, "tls://"+addr, clientTLS(p), dir, nil)
	start(t, s1)
	for i := range 5 {
		s1.Record(exportN(i))
	}
	waitStats(t, s1, "five spooled", func(st Stats) bool { return st.Spooled == 5 })
	shutdown(t, s1)
	if st := s1.Stats(); st.Sent != 0 || st.Pending != 5 || st.Dropped != 0 || st.Connected {
		t.Fatalf("first sink stats = %+v", st)
	}

	s2 := newSink(t, "tls://"+addr, clientTLS(p), dir, nil)
	if st := s2.Stats(); st.Pending != 5 {
		t.Fatalf("reopened spool holds %d, want 5", st.Pending)
	}
	for i := 5; i < 8; i++ {
		s2.Record(exportN(i)) // before Start: wait in the channel
	}
	start(t, s2)
	waitStats(t, s2, "eight pending", func(st Stats) bool { return st.Pending == 8 })

	r, _ := startTLSRepo(t, p, addr)
	msgs := r.waitN(t, 8)
	wantOrder(t, bundleOrder(t, msgs), 0, 8)
	s2.Record(exportN(8))
	msgs = r.waitN(t, 9)
	wantOrder(t, bundleOrder(t, msgs), 0, 9)
	shutdown(t, s2)
	if st := s2.Stats(); st.Sent != 9 || st.Pending != 0 {
		t.Errorf("second sink stats = %+v", st)
	}
	// Nothing left to resend after another restart.
	s3 := newSink(t, "tls://"+addr, clientTLS(p), dir, nil)
	if st := s3.Stats(); st.Pending != 0 {
		t.Errorf("spool after delivery holds %d", st.Pending)
	}
}

// TestSinkSpoolBound: a long outage drops the oldest events, counts them,
// keeps the spool within its bound, and delivers the newest in order.
func TestSinkSpoolBound(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := filepath.Join(t.TempDir(), "spool")
	const max = 16 << 10
	s := newSink(t, "tls://"+addr, clientTLS(p), dir, func(o *Options) { o.MaxSpoolBytes = max })
	start(t, s)
	const n = 200
	for i := range n {
		s.Record(exportN(i))
		waitStats(t, s, "spooled", func(st Stats) bool { return st.Spooled == uint64(i+1) })
	}
	st := s.Stats()
	if st.Dropped == 0 || int(st.Dropped)+st.Pending != n {
		t.Fatalf("stats = %+v; want dropped+pending = %d with some dropped", st, n)
	}
	if b := dirBytes(t, dir); b > max+max/8+4096 {
		t.Errorf("spool uses %d bytes, bound %d", b, max)
	}
	r, _ := startTLSRepo(t, p, addr)
	msgs := r.waitN(t, st.Pending)
	wantOrder(t, bundleOrder(t, msgs), n-st.Pending, n)
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

// TestDTLSDelivers sends to a pion/dtls server requiring a client
// certificate: one datagram per message (RFC 6012).
func TestDTLSDelivers(t *testing.T) {
	p := demoPKI(t)
	r, addr := startDTLSRepo(t, p)
	s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	for i := range 3 {
		s.Record(exportN(i))
	}
	msgs := r.waitN(t, 3)
	if !msgs[0].clientCert {
		t.Error("DTLS repository saw no client certificate")
	}
	wantOrder(t, bundleOrder(t, msgs), 0, 3)
	shutdown(t, s)
}

// TestUDPDeliversAndTruncates sends RFC 5426 datagrams; an oversize
// message is cut to MaxUDPMessage and counted.
func TestUDPDeliversAndTruncates(t *testing.T) {
	r, addr := startUDPRepo(t)
	s := newSink(t, "udp://"+addr, configtls.ClientConfig{}, filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	msgs := r.waitN(t, 1)
	wantOrder(t, bundleOrder(t, msgs), 0, 1)
	big := exportN(1)
	big.OutcomeDesc = strings.Repeat("x", MaxUDPMessage)
	s.Record(big)
	msgs = r.waitN(t, 2)
	if len(msgs[1].msg) != MaxUDPMessage {
		t.Errorf("oversize datagram is %d bytes, want %d", len(msgs[1].msg), MaxUDPMessage)
	}
	waitStats(t, s, "truncated", func(st Stats) bool { return st.Truncated == 1 && st.Sent == 2 })
}

// TestLifecycle: Shutdown without Start keeps recorded events; Shutdown is
// idempotent; Start after Shutdown fails; Record after Shutdown counts a
// drop.
func TestLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := newSink(t, "tls://"+reserveAddr(t), configtls.ClientConfig{}, dir, nil)
	s.Record(exportN(0))
	shutdown(t, s)
	shutdown(t, s)
	if err := s.Start(context.Background()); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	s.Record(exportN(1))
	if st := s.Stats(); st.Dropped != 1 || st.Pending != 1 {
		t.Errorf("stats = %+v", st)
	}
	s2 := newSink(t, "tls://"+reserveAddr(t), configtls.ClientConfig{}, dir, nil)
	if st := s2.Stats(); st.Pending != 1 {
		t.Errorf("spool holds %d after a never-started sink, want 1", st.Pending)
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{URL: "http://x:1", SourceID: "a", SpoolDir: dir},
		{URL: "tls://:6514", SourceID: "a", SpoolDir: dir},
		{URL: "tls://h:99999", SourceID: "a", SpoolDir: dir},
		{URL: "tls://h", SpoolDir: dir},
		{URL: "tls://h", SourceID: "a"},
		{URL: "tls://h", SourceID: "a", SpoolDir: dir, TLS: configtls.ClientConfig{CertFile: "x"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
