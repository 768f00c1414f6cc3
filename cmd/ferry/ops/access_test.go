package ops

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
)

// TestCheckAccess: the doctor warns (not fails) about an MLLP listener
// that anyone on the network may send to, and says for the others what
// restricts their senders.
func TestCheckAccess(t *testing.T) {
	cfg, err := config.Parse("access.yaml", []byte(`
sources:
  mllp:
    - {name: open, listen: "0.0.0.0:2575"}
    - {name: local, listen: "127.0.0.1:2576"}
    - {name: lab, listen: "[::]:2577", allow: [10.1.2.0/24, "fd00::/8"]}
    - name: secure
      listen: 192.168.1.10:2578
      tls: {cert_file: /etc/ferry/s.pem, key_file: /etc/ferry/s.key, client_ca_file: /etc/ferry/ca.pem}
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := CheckAccess(cfg)
	want := []struct {
		level Level
		words []string
	}{
		{Warn, []string{"0.0.0.0:2575 accepts HL7 from any host", "allow", "client_ca_file", "ITI-19"}},
		{OK, []string{"loopback only"}},
		{OK, []string{"senders limited to 10.1.2.0/24, fd00::/8"}},
		{OK, []string{"client certificates required"}},
	}
	if len(checks) != len(want) {
		t.Fatalf("checks = %+v", checks)
	}
	for i, w := range want {
		c := checks[i]
		if c.Level != w.level || c.Area != "access" {
			t.Errorf("check %d: %+v, want level %v", i, c, w.level)
		}
		for _, s := range w.words {
			if !strings.Contains(c.Detail, s) {
				t.Errorf("check %d: %q does not say %q", i, c.Detail, s)
			}
		}
	}
	if Worst(checks) != Warn {
		t.Error("an open listener must not fail the doctor")
	}
}

// TestCheckCertificatesKeyMode: a TLS key other accounts can read fails
// the doctor with the fix, as it would fail the start; the packaged
// layout's 0640 passes.
func TestCheckCertificatesKeyMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows protects key files by ACL, not mode bits")
	}
	dir := t.TempDir()
	p := newPKI(t, dir, "exchange")
	srvCert, srvKey, err := p.ca.Issue("localhost", []string{"localhost"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Sources.MLLP[0].TLS = &configtls.ServerConfig{
		CertFile: writeFile(t, dir, "mllp.pem", srvCert), KeyFile: writeFile(t, dir, "mllp.key", srvKey),
	}
	for mode, want := range map[os.FileMode]Level{0o600: OK, 0o640: OK, 0o644: Fail, 0o606: Fail} {
		if err := os.Chmod(cfg.Sources.MLLP[0].TLS.KeyFile, mode); err != nil {
			t.Fatal(err)
		}
		checks := CheckCertificates(cfg, DoctorOptions{Now: time.Now()})
		if len(checks) != 1 || checks[0].Level != want {
			t.Fatalf("mode %04o: %+v, want level %v", mode, checks, want)
		}
		if want == Fail && !strings.Contains(checks[0].Detail, "chmod 600") {
			t.Errorf("mode %04o: %q does not give the fix", mode, checks[0].Detail)
		}
	}
}
