package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config/pki"
)

// TestStatusShowsAuditTrail: README says an audit event the repository
// refuses as invalid "is counted as dropped (`ferry status`)", and one cut
// to fit a datagram "counted (`ferry status`, truncated)", but `ferry
// status` printed nothing of the audit trail: the events lost, those
// waiting in the spool and the repository's last error were on the
// status page and in /api/status only, and the truncated count nowhere.
func TestStatusShowsAuditTrail(t *testing.T) {
	paths, err := pki.WriteDemoSet(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(paths.ServerCert, paths.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	// A FHIR audit repository that refuses every AuditEvent as invalid.
	repo := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"AuditEvent.agent: minimum required = 1"}]}`)
	}))
	repo.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	repo.StartTLS()
	t.Cleanup(repo.Close)

	dir := t.TempDir()
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL, fmt.Sprintf("  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n", paths.CA, paths.ClientCert, paths.ClientKey))
	gw := runGateway(t, cfg)
	// The gateway's start is audited; the repository refuses it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := fetchStatus(t, gw)
		if st.Audit != nil && st.Audit.Dropped > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event dropped: %+v", st.Audit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// The event may still be counted in the spool while it is removed:
	// only the dropped one is sure.
	want := regexp.MustCompile(`(?m)^audit trail: +\d+ sent, \d+ spooled waiting for the repository, [1-9]\d* dropped \(lost to the trail\), \d+ truncated to fit a datagram since start$`)
	if !want.MatchString(out.String()) {
		t.Errorf("ferry status does not show the audit trail's events dropped:\n%s", out.String())
	}
}

// fetchStatus reads the running gateway's /api/status.
func fetchStatus(t *testing.T, gw *gateway) ops.Status {
	t.Helper()
	resp, err := http.Get("http://" + gw.statusAddr.String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st ops.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
