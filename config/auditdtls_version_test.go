package config

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
)

// TestAuditDTLSMinVersion: audit.tls.min_version "1.3" asks for TLS 1.3
// or later, which a tls:// or https:// repository gets; a dtls://
// repository is reached over DTLS 1.2 (RFC 6347, the only version RFC 6012
// and ferry's DTLS speak), so the setting would be silently ignored, and
// config check says so instead.
func TestAuditDTLSMinVersion(t *testing.T) {
	for _, tc := range []struct {
		url, min string
		ok       bool
	}{
		{"dtls://audit.example.org:6514", "1.3", false},
		{"dtls://audit.example.org:6514", "1.2", true},
		{"dtls://audit.example.org:6514", "", true},
		{"tls://audit.example.org:6514", "1.3", true},
		{"https://audit.example.org/fhir", "1.3", true},
	} {
		a := Audit{URL: tc.url, SourceID: "ferry", TLS: configtls.ClientConfig{
			CertFile: "/etc/ferry/client.pem", KeyFile: "/etc/ferry/client.key", MinVersion: tc.min}}
		err := a.Validate()
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s min_version %q: %v", tc.url, tc.min, err)
		case !tc.ok && err == nil:
			t.Errorf("%s min_version %q: accepted, and DTLS 1.2 would be used", tc.url, tc.min)
		case !tc.ok && !strings.HasPrefix(err.Error(), "tls.min_version:"):
			t.Errorf("%s min_version %q: error %q does not name tls.min_version", tc.url, tc.min, err)
		}
	}
}
