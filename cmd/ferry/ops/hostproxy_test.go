package ops

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// TestHostGuardBehindReverseProxy: README has status.allowed_hosts take
// "a local alias", and a contractor who puts the status page behind the
// clinic's reverse proxy (nginx with proxy_set_header Host $host, IIS)
// adds its name, ferry.clinic.lan. The proxy, on 80 or 443, passes the
// Host the browser sent, which has no port, and that was taken for port
// 80 and refused unless the name was written ferry.clinic.lan:80 (and
// never for one behind HTTPS, whose Host is that of port 443). A name
// without a port now matches on the listener's port and as a proxy on 80
// or 443 presents it; other names, and other ports, are still refused.
func TestHostGuardBehindReverseProxy(t *testing.T) {
	var h http.Handler
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer status.Close()
	h = HostGuard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"queue":{}}`)
	}), status.Listener.Addr(), []string{"ferry.clinic.lan", "https-only.clinic.lan:443"})
	_, port, _ := net.SplitHostPort(status.Listener.Addr().String())

	target, _ := url.Parse(status.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) { host := r.Host; director(r); r.Host = host } // Host $host
	proxy := httptest.NewServer(rp)
	defer proxy.Close()

	for host, ok := range map[string]bool{
		"ferry.clinic.lan":          true, // the proxy on 80 or 443
		"ferry.clinic.lan:80":       true,
		"ferry.clinic.lan:443":      true,
		"ferry.clinic.lan:" + port:  true,
		"FERRY.clinic.lan":          true,
		"https-only.clinic.lan":     true, // no port: 80 or 443, the listener cannot tell
		"https-only.clinic.lan:443": true,
		"https-only.clinic.lan:80":  false,
		"ferry.clinic.lan:9000":     false,
		"evil.example":              false, // DNS rebinding: the attacker's name
		"evil.example:80":           false,
		"evil.example:" + port:      false,
		"localhost":                 false, // port 80, not the listener's
	} {
		req, err := http.NewRequest(http.MethodGet, proxy.URL+"/api/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != ok {
			t.Errorf("Host %q through the proxy: status %d, want ok %v", host, resp.StatusCode, ok)
		}
	}
}
