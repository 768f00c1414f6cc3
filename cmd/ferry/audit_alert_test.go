package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// TestMLLPRefusalsAudited: ATNA's node-authentication-failure trigger
// (ITI-19, ITI-20; DICOM PS3.15 A.5.3.11 Security Alert, event type
// 110126 Node Authentication): a sender that fails the MLLP listener's
// TLS client authentication, or connects from an address outside its
// allow list, is recorded at the audit repository, not only in ferry's
// own log; at most one report per host a minute, with the count of the
// others.
func TestMLLPRefusalsAudited(t *testing.T) {
	paths, _, _ := testPKI(t)
	repo := newUDPRepo(t)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
      tls: {cert_file: %q, key_file: %q, client_ca_file: %q}
    - name: lan
      listen: 127.0.0.1:0
      allow: [10.0.0.0/8]
`, t.TempDir(), repo.URL(), paths.ServerCert, paths.ServerKey, paths.CA)
	gw := runGateway(t, cfg)
	wantIn(t, "start event", repo.next(), `csd-code="110120"`)

	caPEM, err := os.ReadFile(paths.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	// Two handshakes without a client certificate: one report.
	for range 2 {
		c, err := tls.Dial("tcp", gw.MLLPAddr("t").String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			// TLS 1.3: the server's verdict arrives with the first read.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Fatal("a client without a certificate was served")
		}
	}
	alert := repo.next()
	wantIn(t, "tls refusal", alert, `csd-code="110113"`, `csd-code="110126"`, `EventOutcomeIndicator="4"`,
		`NetworkAccessPointID="127.0.0.1"`, `AuditSourceID="clinic-7-ferry"`, `UserID="clinic-7-ferry"`)
	// The listener is the alert subject, by its URI (typed RFC-3881 12,
	// as DICOM PS3.15 A.5.3.11 types a subject), and by its name.
	wantIn(t, "tls refusal", alert, `ParticipantObjectID="mllps://`+gw.MLLPAddr("t").String()+`"`,
		`<ParticipantObjectIDTypeCode csd-code="12" codeSystemName="RFC-3881"`,
		`type="listener" value="`+base64.StdEncoding.EncodeToString([]byte("mllp/t"))+`"`)

	c, err := net.Dial("tcp", gw.MLLPAddr("lan").String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.Read(make([]byte, 1)) // closed by the listener
	c.Close()
	denied := repo.next()
	wantIn(t, "allow-list refusal", denied, `csd-code="110113"`, `csd-code="110126"`, `NetworkAccessPointID="127.0.0.1"`,
		`ParticipantObjectID="mllp://`+gw.MLLPAddr("lan").String()+`"`, base64.StdEncoding.EncodeToString([]byte("mllp/lan")))
}

// TestExchangeAuthFailureAudited: ATNA's node-authentication-failure
// trigger for ferry's own connections (ITI-19 authenticates both nodes;
// DICOM PS3.15 A.5.3.11 Security Alert, type 110126): an exchange whose
// server certificate does not verify against exchange.tls.ca_file is
// recorded at the audit repository as a Security Alert naming the
// exchange as the destination node (its network access point) and as
// the alert subject, with the TLS diagnosis and nothing of the message.
// The dispatcher retries every few milliseconds here; the repository
// gets one alert for the exchange, not one per retry: the next event
// after many retries is the gateway's stop.
func TestExchangeAuthFailureAudited(t *testing.T) {
	paths, _, exURL := testPKI(t)
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	repo := newUDPRepo(t)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 5ms, max_interval: 10ms}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, t.TempDir(), repo.URL(), exURL, other.CA, paths.ClientCert, paths.ClientKey)
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			gw.Shutdown(context.Background())
		}
	})
	wantIn(t, "start event", repo.next(), `csd-code="110120"`)
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s, want AA", got)
	}
	u, err := url.Parse(exURL)
	if err != nil {
		t.Fatal(err)
	}
	node := "https://" + u.Host
	var alert string
	for alert == "" {
		if ev := repo.next(); strings.Contains(ev, `csd-code="110113"`) {
			alert = ev
		} else if !strings.Contains(ev, `csd-code="110107"`) {
			t.Fatalf("unexpected event before the alert:\n%s", ev)
		}
	}
	wantIn(t, "exchange authentication alert", alert, `csd-code="110113"`, `csd-code="110126"`, `EventActionCode="E"`,
		`EventOutcomeIndicator="4"`, `AuditSourceID="clinic-7-ferry"`,
		`UserID="clinic-7-ferry" UserIsRequestor="true"`, `csd-code="110153"`,
		`UserID="`+node+`" UserIsRequestor="false" NetworkAccessPointID="127.0.0.1" NetworkAccessPointTypeCode="2"`, `csd-code="110152"`,
		`ParticipantObjectID="`+node+`" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="13"`, `csd-code="12" codeSystemName="RFC-3881" originalText="URI"`,
		"unknown authority")
	for _, phi := range []string{"Doe", "MRN-", "19800101", "CTRL-1"} {
		if strings.Contains(alert, phi) {
			t.Errorf("the alert carries %q from the message:\n%s", phi, alert)
		}
	}
	// Many more failed attempts, then a stop: no second alert between.
	waitFor(t, "retries", func() bool { return gw.disp.Stats().Retried >= 20 })
	stopped = true
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The message's import event may be recorded after the alert: the
	// pipeline records it once the input is stored, which can be after
	// the dispatcher's first attempt under load.
	ev := repo.next()
	for strings.Contains(ev, `csd-code="110107"`) {
		ev = repo.next()
	}
	if !strings.Contains(ev, `csd-code="110121"`) {
		t.Fatalf("after 20 retries the repository got, before the stop event:\n%s", ev)
	}
}

// TestPerHostLimiter: one report per host per deniedEvery, and the next
// one carries how many were held back; hosts are counted apart.
func TestPerHostLimiter(t *testing.T) {
	l := newPerHost[string]()
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	if ok, missed := l.allow("https://hie:443", t0); !ok || missed != 0 {
		t.Fatalf("first: %v %d", ok, missed)
	}
	for i := range 5 {
		if ok, _ := l.allow("https://hie:443", t0.Add(time.Duration(i+1)*time.Second)); ok {
			t.Fatalf("retry %d within %s reported", i, deniedEvery)
		}
	}
	if ok, _ := l.allow("https://auth:443", t0.Add(time.Second)); !ok {
		t.Fatal("another host held back")
	}
	if ok, missed := l.allow("https://hie:443", t0.Add(deniedEvery)); !ok || missed != 5 {
		t.Fatalf("after %s: %v, %d held back, want true, 5", deniedEvery, ok, missed)
	}
}
