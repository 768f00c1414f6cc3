package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"
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
	if !strings.Contains(alert, "mllp/t") {
		t.Errorf("the alert does not name the listener:\n%s", alert)
	}

	c, err := net.Dial("tcp", gw.MLLPAddr("lan").String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.Read(make([]byte, 1)) // closed by the listener
	c.Close()
	denied := repo.next()
	wantIn(t, "allow-list refusal", denied, `csd-code="110113"`, `csd-code="110126"`, `NetworkAccessPointID="127.0.0.1"`, "mllp/lan")
}
