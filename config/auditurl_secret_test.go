package config

import (
	"strings"
	"testing"
)

// TestAuditURLCredentials: an audit.url with user:password@ is refused
// for every scheme (a syslog repository authenticates ferry by its
// certificate; the gateway would otherwise carry the password around in
// clear), and no problem message repeats the password, not even for a URL
// that does not parse.
func TestAuditURLCredentials(t *testing.T) {
	for _, u := range []string{
		"tls://clinic:hunter2@audit.example.org:6514",
		"tls://clinic:hunter2 x@audit.example.org:6514",
		"https://clinic:hunter2 x@audit.example.org/fhir",
		"udp://clinic:hunter2@audit.example.org:514",
	} {
		c := Default()
		c.Audit.URL = u
		c.Audit.SourceID = "ferry"
		c.Audit.TLS.CertFile, c.Audit.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the problem shows the password: %v", u, err)
		}
	}
}
