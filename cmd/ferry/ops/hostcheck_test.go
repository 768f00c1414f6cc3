package ops

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHostGuard(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8089}
	h := HostGuard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"queue":{}}`)
	}), bound, []string{"ferry.clinic.lan", "Status.Example:9000"})
	for host, ok := range map[string]bool{
		"127.0.0.1:8089":        true,
		"localhost:8089":        true,
		"LOCALHOST:8089":        true,
		"[::1]:8089":            true,
		"127.0.0.2:8089":        true, // a loopback address literal
		"ferry.clinic.lan:8089": true, // configured
		"status.example:9000":   true, // configured with its port
		// DNS rebinding: the attacker's name, pointed at 127.0.0.1.
		"evil.example:8089":     false,
		"evil.example":          false,
		"localhost":             false, // port 80, not the listener's
		"localhost:8090":        false,
		"ferry.clinic.lan:9000": false,
		"status.example:8089":   false,
		"10.0.0.5:8089":         false,
		"":                      false,
	} {
		for _, path := range []string{"/api/status", "/metrics"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Code == http.StatusOK; got != ok {
				t.Errorf("Host %q %s: status %d", host, path, rec.Code)
			}
			if !ok && (rec.Code != http.StatusMisdirectedRequest || rec.Body.String() == `{"queue":{}}`) {
				t.Errorf("Host %q %s: %d %q", host, path, rec.Code, rec.Body.String())
			}
		}
	}
}
