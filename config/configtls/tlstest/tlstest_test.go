package tlstest

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestRequiresClientCertificate: the server answers a client with the
// demo client certificate over HTTP/2 and refuses one without.
func TestRequiresClientCertificate(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), true)

	good, err := configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	good.ServerName = "localhost"
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: good, ForceAttemptHTTP2: true}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0" {
		t.Errorf("answered over %q, want HTTP/2.0", body)
	}

	anon := good.Clone()
	anon.Certificates, anon.GetClientCertificate = nil, nil
	c = &http.Client{Transport: &http.Transport{TLSClientConfig: anon}}
	if resp, err := c.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate was served")
	}
}
