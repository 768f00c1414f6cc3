package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/config"
)

// TestStatusRefusesForeignHost: the running status server answers a
// request whose Host is not its own (a DNS-rebinding page's) with 421, and
// serves its own address and the configured names.
func TestStatusRefusesForeignHost(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := parseConfig(t, `
data_dir: %q
status:
  listen: %q
  allowed_hosts: [ferry.clinic.lan]
`, filepath.Join(dir, "data"), addr)
	gw := runGateway(t, cfg)
	_, port, _ := net.SplitHostPort(gw.statusAddr.String())
	for host, want := range map[string]int{
		"":                                http.StatusOK, // the address dialled
		"localhost:" + port:               http.StatusOK,
		"ferry.clinic.lan:" + port:        http.StatusOK,
		"rebind.attacker.example:" + port: http.StatusMisdirectedRequest,
	} {
		for _, path := range []string{"/", "/api/status", "/metrics", "/healthz"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
			if host != "" {
				req.Host = host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("Host %q %s: %s, want %d", host, path, resp.Status, want)
			}
		}
	}
	if _, err := config.Parse("bad", []byte("status:\n  listen: 127.0.0.1:8089\n  allowed_hosts: ['http://x/']\n")); err == nil {
		t.Error("status.allowed_hosts accepted a URL")
	}
}
