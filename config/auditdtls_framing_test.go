package config

import (
	"strings"
	"testing"
)

// TestAuditDTLSFraming: audit.dtls_framing is octet-counting (RFC 6012's
// MSG-LEN SP SYSLOG-MSG, the default) or bare (for rsyslog's imdtls); any
// other value, or either with a repository that is not dtls://, is an
// error naming the field.
func TestAuditDTLSFraming(t *testing.T) {
	for _, tc := range []struct {
		url, framing string
		ok           bool
	}{
		{"dtls://audit.example.org:6514", "", true},
		{"dtls://audit.example.org:6514", "octet-counting", true},
		{"dtls://audit.example.org:6514", "bare", true},
		{"dtls://audit.example.org:6514", "newline", false},
		{"tls://audit.example.org:6514", "bare", false},
		{"udp://audit.example.org:514", "octet-counting", false},
	} {
		a := Audit{URL: tc.url, SourceID: "ferry-1", DTLSFraming: tc.framing}
		if !strings.HasPrefix(tc.url, "udp") {
			a.TLS.CertFile, a.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
		}
		err := a.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s dtls_framing %q: %v", tc.url, tc.framing, err)
		}
		if !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "dtls_framing: ")) {
			t.Errorf("%s dtls_framing %q: error %v, want one naming dtls_framing", tc.url, tc.framing, err)
		}
	}
	if !(Audit{DTLSFraming: "bare"}).DTLSBare() || (Audit{}).DTLSBare() {
		t.Error("DTLSBare")
	}
}
