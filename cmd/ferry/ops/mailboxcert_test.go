package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
)

// TestMailboxCAExpiryWatched: a fax mailbox's CA files (tls.ca_file for
// the IMAP server, oauth2.ca_file for its token endpoint) are read when
// the gateway starts, which it refuses to do once every CA in one has
// expired; their expiry shows in the status (and so in the daily
// warning and the metrics) and in the doctor's certificate checks, as
// the exchange's and the proxy's CAs do.
func TestMailboxCAExpiryWatched(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	imap := newPKI(t, dir, "imap")
	login := newPKI(t, dir, "login")

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources.Mailboxes = []config.Mailbox{{
		MailboxConfig: fax.MailboxConfig{Name: "efax", Address: "imap.example.org:993", Username: "faxes",
			OAuth2: &fax.OAuth2Config{TokenURL: "https://login.example.org/token", ClientID: "ferry", CAFile: login.caFile}},
		TLS: configtls.ClientConfig{CAFile: imap.caFile},
	}}
	for _, want := range []string{imap.caFile, login.caFile} {
		listed := false
		for _, cs := range ConfiguredCertificates(cfg, now) {
			if cs.File == want {
				listed = true
				if cs.Error != "" || cs.DaysLeft < 700 {
					t.Errorf("%s status: %+v", want, cs)
				}
			}
		}
		if !listed {
			t.Errorf("ConfiguredCertificates leaves out %s: %+v", want, ConfiguredCertificates(cfg, now))
		}
		checked := false
		for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
			if strings.HasSuffix(ch.Name, " "+want) {
				checked = true
				if ch.Level != OK {
					t.Errorf("%s check: %+v", want, ch)
				}
			}
		}
		if !checked {
			t.Errorf("CheckCertificates leaves out %s: %+v", want, CheckCertificates(cfg, DoctorOptions{Now: now}))
		}
	}
}
