package audit

import (
	"net"
	"net/url"
	"testing"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
)

// TestFHIRFeedThroughProxy: an https audit repository is reached through
// the proxy section's proxy (a CONNECT tunnel, mutual TLS inside it),
// like the exchange. The repository's name only the proxy resolves.
func TestFHIRFeedThroughProxy(t *testing.T) {
	p := demoPKI(t)
	r := &fhirRepo{}
	base, err := url.Parse(startFHIRRepo(t, p, r))
	if err != nil {
		t.Fatal(err)
	}
	base.Host = net.JoinHostPort("audit.invalid", base.Port())
	px := proxytest.New(t, proxytest.Options{User: "ferry", Password: "audit-s3cret", Hosts: map[string]string{"audit.invalid": "127.0.0.1"}})
	tc := clientTLS(p)
	tc.ServerName = "localhost"
	s := newSink(t, base.String(), tc, t.TempDir(), func(o *Options) {
		o.Proxy = configproxy.Config{URL: configproxy.URL(px.URL())}
	})
	start(t, s)
	for i := range 3 {
		s.Record(exportN(i))
	}
	waitStats(t, s, "every event sent", func(st Stats) bool { return st.Pending == 0 && st.Sent >= 3 })
	if got, _ := r.count(); got != 3 {
		t.Errorf("repository stored %d events, want 3", got)
	}
	if px.Tunnels() == 0 {
		t.Error("the audit feed did not go through the proxy")
	}
	shutdown(t, s)
}
