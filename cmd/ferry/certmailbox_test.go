package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
)

// TestCertExpiryMailboxOAuthCertificate: a fax mailbox that gets its
// token with the app's certificate (oauth2.client_cert_file, as Entra ID
// recommends for Microsoft 365) stops taking faxes once that certificate
// expires (Entra ID refuses an assertion of an expired key credential),
// but neither the daily check nor the status listed it, though it lists
// "every certificate file" of the configuration: its 30 days' WARN never
// came. It is listed, and warned about, beside the others.
func TestCertExpiryMailboxOAuthCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("app CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, k, _ := ca.IssueValid("ferry fax app", nil, nil, true, now.Add(-time.Hour), now.Add(12*24*time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "app.pem"), c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.key"), k, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Sources.Mailboxes = []config.Mailbox{{}}
	mb := &cfg.Sources.Mailboxes[0]
	mb.Name, mb.Address, mb.Username = "m365", "outlook.office365.com:993", "faxes@clinic.example"
	mb.OAuth2 = &fax.OAuth2Config{TokenURL: "https://login.microsoftonline.com/t/oauth2/v2.0/token", ClientID: "app",
		ClientCertFile: filepath.Join(dir, "app.pem"), ClientKeyFile: filepath.Join(dir, "app.key")}
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	g.warnCertExpiry()
	if out := logs.String(); !strings.Contains(out, `msg="certificate expires soon" use="mailbox/m365 OAuth client certificate"`) {
		t.Fatalf("no expiry warning for the mailbox's OAuth client certificate:\n%s", out)
	}
}
