package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCAFileFixedWithoutRestart: while the audit repository's
// certificate is not signed by the CA in audit.tls.ca_file (it changed
// its CA), the events wait in the spool; once the operator puts the right
// CA in the file, the next redial reads it and the events go, without a
// restart, for syslog over TLS, over DTLS and the FHIR feed alike, as
// the exchange's sinks do.
func TestCAFileFixedWithoutRestart(t *testing.T) {
	for _, scheme := range []string{"tls", "dtls", "https"} {
		t.Run(scheme, func(t *testing.T) {
			p, other := demoPKI(t), demoPKI(t)
			var url string
			var delivered func() int
			switch scheme {
			case "tls":
				r, addr := startTLSRepo(t, p, "127.0.0.1:0")
				url, delivered = "tls://"+addr, func() int { m, _ := r.snapshot(); return len(m) }
			case "dtls":
				r, addr := startDTLSRepo(t, p)
				url, delivered = "dtls://"+addr, func() int { m, _ := r.snapshot(); return len(m) }
			case "https":
				r := &fhirRepo{}
				url, delivered = startFHIRRepo(t, p, r), func() int { n, _ := r.count(); return n }
			}
			caFile := filepath.Join(t.TempDir(), "audit-ca.pem")
			copyFile(t, other.CA, caFile) // not the repository's CA
			tc := clientTLS(p)
			tc.CAFile = caFile
			s := newSink(t, url, tc, filepath.Join(t.TempDir(), "spool"), nil)
			start(t, s)
			s.Record(exportN(0))
			st := waitStats(t, s, "the event spooled after a TLS failure", func(st Stats) bool { return st.Pending == 1 && st.LastError != "" })
			if scheme != "dtls" && !strings.Contains(st.LastError, "unknown authority") && !strings.Contains(st.LastError, "certificate signed by unknown") {
				t.Errorf("last error %q", st.LastError)
			}
			if n := delivered(); n != 0 {
				t.Fatalf("%d events delivered to a repository ferry does not trust", n)
			}
			copyFile(t, p.CA, caFile) // the operator fixes ca_file
			s.Record(exportN(1))
			// The repository reads on its own goroutine: over DTLS a sent
			// datagram reaches it a moment after the sink counts it.
			waitStats(t, s, "both events at the repository after ca_file was fixed", func(st Stats) bool {
				return st.Sent == 2 && st.Pending == 0 && delivered() == 2
			})
			shutdown(t, s)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
