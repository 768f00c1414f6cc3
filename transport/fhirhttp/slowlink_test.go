package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
)

// TestInMemoryBundleOverSlowLink: a bundle kept in memory (up to 1 MiB;
// larger ones are streamed from a file under a watchdog) that a slow
// uplink takes longer than exchange.timeout to carry was cut by the
// timeout on every attempt, so it was retried for ever and held its
// patient's later bundles back, though the exchange was reading it all
// along. As the MLLP sink does (mllptls.minLinkRate), the request is
// given its size at 256 kbit/s on top of Timeout. The exchange here
// reads the bundle at a pace slower than Timeout allows for it, and far
// faster than 256 kbit/s.
func TestInMemoryBundleOverSlowLink(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv := tlstest.NewUnstartedServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The link's pace: 32 KiB every 15 ms, the bundle in about 0.45 s.
		buf := make([]byte, 32<<10)
		for {
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				break
			}
			time.Sleep(15 * time.Millisecond)
		}
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, txResponse)
	}))
	srv.StartTLS()
	defer srv.Close()

	// One entry, its note padded to 960 KiB: below the spill size.
	pad := strings.Repeat("x", 960<<10)
	body := strings.Replace(bundle, `"resourceType":"Patient",`, `"resourceType":"Patient","text":{"status":"generated","div":"`+pad+`"},`, 1)
	s := newSink(t, Config{URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS:     configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
		Timeout: 100 * time.Millisecond})
	if err := s.Send(context.Background(), &queue.Item{ID: "big", Body: []byte(body)}); err != nil {
		t.Fatalf("a bundle the exchange kept reading was cut off: %v", err)
	}
}
