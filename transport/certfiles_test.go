package transport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// TestExpiredClientCertificateNeedsAnOperator: an expired client
// certificate in cert_file (at start, or found when the sink reconnects
// after the exchange refused the old one) stops delivery at Connect; the
// status page must flag it as needing an operator, as it does a TLS
// handshake problem, not only show it as the last error.
func TestExpiredClientCertificateNeedsAnOperator(t *testing.T) {
	ca, err := pki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certPEM, keyPEM, err := ca.IssueValid("ferry client", nil, nil, true, now.Add(-48*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(t.TempDir(), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if err := q.Put(context.Background(), &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`)}); err != nil {
		t.Fatal(err)
	}
	sink, err := fhirhttp.New(fhirhttp.Config{URL: "https://localhost:1/fhir",
		TLS: configtls.ClientConfig{CertFile: certFile, KeyFile: keyFile}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.Stats().ConnectFailures < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no connect failure: %+v", d.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	d.Shutdown(context.Background())
	st := d.Stats()
	if !strings.Contains(st.LastError, "expired") {
		t.Fatalf("last error %q does not say the certificate expired", st.LastError)
	}
	if !strings.Contains(st.ConfigProblem, "expired") || !strings.Contains(st.ConfigProblem, certFile) {
		t.Errorf("ConfigProblem %q: want the expired cert_file flagged for an operator", st.ConfigProblem)
	}
	if q.Len() != 1 {
		t.Errorf("queue holds %d items, want 1", q.Len())
	}
}
