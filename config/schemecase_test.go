package config

import (
	"path/filepath"
	"testing"
)

// TestExchangeSchemeAnyCase: exchange.url's scheme written in capitals
// (MLLPS://hie.example.org:2575, SFTP://..., as an onboarding sheet may
// print it) passed ferry config check, which reads the scheme as url.Parse
// gives it, in lower case, while the gateway chose its sink by the URL's
// first letters as written: it took such an exchange for a FHIR one and
// refused to start ("scheme \"mllps\" is not http(s)"). RFC 3986 §3.1:
// "An implementation should accept uppercase letters as equivalent to
// lowercase in scheme names".
func TestExchangeSchemeAnyCase(t *testing.T) {
	dir := t.TempDir()
	key, hosts := filepath.ToSlash(filepath.Join(dir, "id")), filepath.ToSlash(filepath.Join(dir, "known_hosts"))
	for _, tc := range []struct {
		yml        string
		mllp, sftp bool
	}{
		{"exchange:\n  url: MLLPS://hie.example.org:2575\n  tls: {cert_file: /c.pem, key_file: /c.key}\n", true, false},
		{"exchange:\n  url: Mllps://hie.example.org:2575\n  tls: {cert_file: /c.pem, key_file: /c.key}\n", true, false},
		{"exchange:\n  url: SFTP://clinic7@sftp.hie.example.org/inbound\n  sftp: {key_file: '" + key + "', known_hosts: '" + hosts + "'}\n", false, true},
		{"exchange:\n  url: HTTPS://hie.example.org/fhir/R4\n  tls: {cert_file: /c.pem, key_file: /c.key}\n", false, false},
	} {
		c, err := Parse("t.yaml", []byte(tc.yml))
		if err != nil {
			t.Errorf("%q: %v", tc.yml, err)
			continue
		}
		if got := c.Exchange.MLLP(); got != tc.mllp {
			t.Errorf("%q: MLLP() = %v, want %v", tc.yml, got, tc.mllp)
		}
		if got := c.Exchange.FileDrop(); got != tc.sftp {
			t.Errorf("%q: FileDrop() = %v, want %v", tc.yml, got, tc.sftp)
		}
	}
}
