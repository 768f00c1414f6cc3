package ops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
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

// TestDoctorMailboxOAuthCertificate: a fax mailbox that gets its token
// with the app's certificate (oauth2.client_cert_file, Entra ID's advice
// for Microsoft 365) stops taking faxes once it expires; the status and
// the daily WARN list it, but `ferry doctor`, whose certificate checks
// are of "every configured certificate", said nothing of it: one with 12
// days left, or expired, passed the doctor. It is checked beside the
// others: a warning to renew it, a failure once it has expired.
func TestDoctorMailboxOAuthCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("app CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, _, err := ca.IssueValid("ferry fax app", nil, nil, true, now.Add(-time.Hour), now.Add(12*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(cert, c, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources.Mailboxes = []config.Mailbox{{MailboxConfig: fax.MailboxConfig{Name: "m365", Address: "outlook.office365.com:993", Username: "faxes@clinic.example",
		OAuth2: &fax.OAuth2Config{TokenURL: "https://login.microsoftonline.com/t/oauth2/v2.0/token", ClientID: "app",
			ClientCertFile: cert, ClientKeyFile: filepath.Join(dir, "app.key")}}}}
	for _, at := range []struct {
		now   time.Time
		level Level
		says  string
	}{{now, Warn, "days left; renew it soon"}, {now.Add(13 * 24 * time.Hour), Fail, "expired on"}} {
		var found *Check
		checks := CheckCertificates(cfg, DoctorOptions{Now: at.now})
		for i, ch := range checks {
			if ch.Name == "sources.mailboxes[0].oauth2.client_cert_file "+cert {
				found = &checks[i]
			}
		}
		if found == nil {
			t.Fatalf("the doctor does not check the mailbox's OAuth client certificate: %+v", checks)
		}
		if found.Level != at.level || !strings.Contains(found.Detail, at.says) {
			t.Errorf("at %s: %s %s, want %s saying %q", at.now.Format(time.DateOnly), found.Level, found.Detail, at.level, at.says)
		}
	}
}
