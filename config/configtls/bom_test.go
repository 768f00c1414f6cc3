package configtls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestPEMWithByteOrderMark: PEM files saved by Windows tools as "UTF-8
// with BOM" (Notepad's older default, PowerShell 5's Set-Content
// -Encoding UTF8 when a chain is put together) are read whole. The mark
// hid the first block: a certificate alone was "no certificate found (is
// it PEM?)" to a contractor looking at -----BEGIN CERTIFICATE-----, and
// in a chain or CA bundle the first certificate was skipped without a
// word. A UTF-16 file (PowerShell 5's > and Out-File) is named as such.
func TestPEMWithByteOrderMark(t *testing.T) {
	p := demo(t)
	dir := t.TempDir()
	bom := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "bom-"+filepath.Base(path))
		if err := os.WriteFile(out, append([]byte("\xef\xbb\xbf"), b...), 0o600); err != nil {
			t.Fatal(err)
		}
		return out
	}
	server, err := ServerConfig{CertFile: bom(p.ServerCert), KeyFile: bom(p.ServerKey), ClientCAFile: bom(p.CA)}.LoadTLSConfig()
	if err != nil {
		t.Fatalf("server files with a BOM: %v", err)
	}
	client, err := ClientConfig{CAFile: bom(p.CA), CertFile: bom(p.ClientCert), KeyFile: bom(p.ClientKey), ServerName: "localhost"}.LoadTLSConfig()
	if err != nil {
		t.Fatalf("client files with a BOM: %v", err)
	}
	if cerr, serr := handshake(t, client, server); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if err := CheckKeyPair(bom(p.ClientCert), bom(p.ClientKey)); err != nil {
		t.Errorf("CheckKeyPair: %v", err)
	}

	b, _ := os.ReadFile(p.ClientCert)
	u := utf16.Encode([]rune(string(b)))
	wide := []byte{0xff, 0xfe}
	for _, r := range u {
		wide = append(wide, byte(r), byte(r>>8))
	}
	path := filepath.Join(dir, "utf16.pem")
	os.WriteFile(path, wide, 0o600)
	if _, err := (ClientConfig{CertFile: path, KeyFile: p.ClientKey}).LoadTLSConfig(); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("a UTF-16 cert_file: %v", err)
	}
}
