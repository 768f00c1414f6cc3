package main

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/config"
)

// TestServiceLayoutGivesEveryCertificateToTheService: `ferry install`
// (and --folders-only) makes each TLS file the configuration names
// readable by the service account, the audit repository's too, and the
// data-at-rest key private to it.
func TestServiceLayoutGivesEveryCertificateToTheService(t *testing.T) {
	cfg := config.Default()
	cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile, cfg.Exchange.TLS.CAFile = "/etc/ferry/client.pem", "/etc/ferry/client.key", "/etc/ferry/hie-ca.pem"
	cfg.Audit.TLS.CertFile, cfg.Audit.TLS.KeyFile, cfg.Audit.TLS.CAFile = "/etc/ferry/audit.pem", "/etc/ferry/audit.key", "/etc/ferry/arr-ca.pem"
	cfg.Encryption.KeyFile = "/etc/ferry/ferry.key"
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/client.pem", "/etc/ferry/client.key", "/etc/ferry/hie-ca.pem", "/etc/ferry/audit.pem", "/etc/ferry/audit.key", "/etc/ferry/arr-ca.pem"} {
		if !slices.Contains(l.Readable, f) {
			t.Errorf("%s is not made readable by the service: %v", f, l.Readable)
		}
	}
	if !slices.Contains(l.Private, "/etc/ferry/ferry.key") {
		t.Errorf("the data-at-rest key is not the service's: %v", l.Private)
	}
}

// TestServiceLayoutLogFolder: a log.file outside the data folder gets a
// folder of its own that the service may write (and, under systemd, a
// ReadWritePaths entry); one inside the data folder needs nothing more.
func TestServiceLayoutLogFolder(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = "/var/lib/ferry"
	for _, c := range []struct{ file, want string }{
		{"", ""},
		{"/var/lib/ferry/logs/ferry.log", ""},
		{"/var/lib/ferry/ferry.log", ""},
		{"/var/lib/ferry-logs/ferry.log", "/var/lib/ferry-logs"},
		{"/var/log/ferry/ferry.log", "/var/log/ferry"},
	} {
		cfg.Log.File = c.file
		if got := serviceLayout("/etc/ferry/ferry.yaml", cfg).LogDir; got != filepath.FromSlash(c.want) {
			t.Errorf("log.file %q: log folder %q, want %q", c.file, got, c.want)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	cfg.Log.File = "/var/log/ferry/ferry.log"
	sc, err := installServiceConfig("/etc/ferry/ferry.yaml", cfg)
	if err != nil {
		t.Fatal(err)
	}
	unit, _ := sc.Option["SystemdScript"].(string)
	if !strings.Contains(unit, "/var/log/ferry") {
		t.Errorf("the unit does not let the service write /var/log/ferry:\n%s", unit)
	}
}

// TestInstallRefusesASharedLogFolder: a log.file directly in a folder that
// exists and is not ferry's (/var/log) would have install give that folder
// to the service account; it is refused, naming a folder of its own.
func TestInstallRefusesASharedLogFolder(t *testing.T) {
	shared := t.TempDir() // exists, no "ferry" in its path
	if err := checkLogDir(shared); err == nil || !strings.Contains(err.Error(), filepath.Join(shared, "ferry", "ferry.log")) {
		t.Errorf("shared folder: %v", err)
	}
	for _, ok := range []string{"", filepath.Join(shared, "new-logs"), filepath.Join(shared, "Ferry-Logs")} {
		if ok != "" && strings.Contains(ok, "Ferry") {
			if err := os.Mkdir(ok, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := checkLogDir(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestServiceLayoutWorkFolders: a HylaFAX inbox's work folder, beside
// recvq where the service account cannot create it, is one install
// prepares (and --dry-run names); a work folder inside the watched folder
// (.ferry) is left to the gateway.
func TestServiceLayoutWorkFolders(t *testing.T) {
	cfg := config.Default()
	var fax, ehr config.Folder
	fax.Name, fax.Kind, fax.Path = "hylafax", "hylafax", "/var/spool/hylafax/recvq"
	ehr.Name, ehr.Kind, ehr.Path = "ehr", "ehr", "/srv/exports"
	cfg.Sources.Folders = []config.Folder{fax, ehr}
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	want := filepath.FromSlash("/var/spool/hylafax/ferry")
	if runtime.GOOS == "windows" {
		want, _ = filepath.Abs(want)
	}
	if len(l.WorkDirs) != 1 || l.WorkDirs[0] != want {
		t.Errorf("work folders install prepares: %v, want [%s]", l.WorkDirs, want)
	}
}

// TestServiceLayoutGivesAuthKeysToTheService: the SMART and UDAP keys,
// the UDAP certificate and trust anchors and an https proxy's CA are read
// by the running service at delivery time: a key made root's 0600 by hand
// (as the UDAP section says) would fail every token request while `sudo
// ferry doctor` passes it. install makes them readable as it does the TLS
// files.
func TestServiceLayoutGivesAuthKeysToTheService(t *testing.T) {
	cfg := config.Default()
	cfg.Exchange.URL = "https://hie.example.org/fhir/R4"
	cfg.Exchange.Auth.SMART.KeyFile = "/etc/ferry/smart.key"
	cfg.Exchange.Auth.UDAP.CertFile, cfg.Exchange.Auth.UDAP.KeyFile, cfg.Exchange.Auth.UDAP.TrustAnchors = "/etc/ferry/udap.pem", "/etc/ferry/udap.key", "/etc/ferry/tefca-anchors.pem"
	cfg.Proxy.CAFile = "/etc/ferry/proxy-ca.pem"
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/smart.key", "/etc/ferry/udap.pem", "/etc/ferry/udap.key", "/etc/ferry/tefca-anchors.pem", "/etc/ferry/proxy-ca.pem"} {
		if !slices.Contains(l.Readable, f) {
			t.Errorf("%s is not made readable by the service: %v", f, l.Readable)
		}
	}
}

// TestPackagedUnitNote: after a package install, `ferry install
// --folders-only` says which folders the packaged unit (ReadWritePaths=
// /var/lib/ferry, ProtectSystem=strict) does not let the service write: a
// log.file in /var/log/ferry and an export folder would otherwise fail at
// the next start or stick, with nothing said.
func TestPackagedUnitNote(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("systemd only")
	}
	pkg := "/etc/ferry/ferry.yaml"
	cfg := config.Default()
	cfg.DataDir = "/var/lib/ferry"
	if n := packagedUnitNote(pkg, cfg); n != "" {
		t.Errorf("nothing outside /var/lib/ferry, yet: %q", n)
	}
	cfg.Log.File = "/var/log/ferry/ferry.log"
	var ehr config.Folder
	ehr.Name, ehr.Kind, ehr.Path = "ehr", "ehr", "/srv/exports"
	cfg.Sources.Folders = []config.Folder{ehr}
	n := packagedUnitNote(pkg, cfg)
	if !strings.Contains(n, "ReadWritePaths=/srv/exports /var/log/ferry") || !strings.Contains(n, "systemctl edit ferry") {
		t.Errorf("note: %q", n)
	}
	if n := packagedUnitNote("/opt/ferry/ferry.yaml", cfg); n != "" {
		t.Errorf("another configuration than the packaged unit's: %q", n)
	}
	// A folder with a space in its name (a scanner's "Scans 2024") is one
	// quoted word of the line, else systemd reads two folders.
	cfg.Sources.Folders[0].Path = "/srv/Scans 2024"
	if n := packagedUnitNote(pkg, cfg); !strings.Contains(n, `ReadWritePaths="/srv/Scans 2024" /var/log/ferry`+"\n") {
		t.Errorf("note for a folder with a space: %q", n)
	}
}

// TestServiceLayoutGivesSFTPLoginsToTheService: the SSH key and
// known_hosts of an sftp:// exchange (which `ferry init` asks for) and of
// a folder's fetch are read by the service at each login. Made with
// `sudo ssh-keygen` they are root's 0600, and install left them so: every
// login failed while `sudo ferry doctor`, reading them as root, passed.
func TestServiceLayoutGivesSFTPLoginsToTheService(t *testing.T) {
	cfg := config.Default()
	cfg.Exchange.URL = "sftp://clinic7@sftp.hie.example/inbound"
	cfg.Exchange.SFTP.KeyFile, cfg.Exchange.SFTP.KnownHosts = "/etc/ferry/hie_ed25519", "/etc/ferry/hie_known_hosts"
	var ehr config.Folder
	ehr.Name, ehr.Kind, ehr.Path = "athena", "ehr", "/srv/exports/athena"
	ehr.Fetch = &fetch.Config{URL: "sftp://clinic7@sftp.ehr.example/outbound"}
	ehr.Fetch.KeyFile, ehr.Fetch.KnownHosts = "/etc/ferry/ehr_ed25519", "/etc/ferry/known_hosts"
	cfg.Sources.Folders = []config.Folder{ehr}
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/hie_ed25519", "/etc/ferry/hie_known_hosts", "/etc/ferry/ehr_ed25519", "/etc/ferry/known_hosts"} {
		if !slices.Contains(l.Readable, f) {
			t.Errorf("%s is not made readable by the service: %v", f, l.Readable)
		}
	}
}

// TestServiceLayoutGivesPreviousKeysToTheService: after a key rotation the
// gateway loads encryption.previous_key_files at start as it does
// key_file (0600, the account's, or it does not start). Put back as root
// on a new machine ("Moving to a new machine"), a previous key stayed
// root's after `ferry install --folders-only`, and the service did not
// start.
func TestServiceLayoutGivesPreviousKeysToTheService(t *testing.T) {
	cfg := config.Default()
	cfg.Encryption.KeyFile = "/etc/ferry/ferry-2027.key"
	cfg.Encryption.PreviousKeyFiles = []string{"/etc/ferry/ferry.key", "/etc/ferry/ferry-2025.key"}
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/ferry-2027.key", "/etc/ferry/ferry.key", "/etc/ferry/ferry-2025.key"} {
		if !slices.Contains(l.Private, f) {
			t.Errorf("%s is not the service's own: %v", f, l.Private)
		}
	}
}

// TestServiceLayoutGivesMailboxSecretsToTheService: a fax mailbox's
// password file (or OAuth 2.0 client secret, client key, service account
// key) is read by the service at each poll, "readable by the ferry
// account only" as the README and doctor's warning ask; its CA files and
// client certificate are read as the TLS files are. install left them
// all as they were: root's, every poll failed.
func TestServiceLayoutGivesMailboxSecretsToTheService(t *testing.T) {
	cfg := config.Default()
	var imap, m365, gmail config.Mailbox
	imap.Name, imap.PasswordFile, imap.TLS.CAFile = "efax", "/etc/ferry/imap.pass", "/etc/ferry/mail-ca.pem"
	m365.Name, m365.OAuth2 = "m365", &fax.OAuth2Config{ClientSecretFile: "/etc/ferry/m365.secret", ClientCertFile: "/etc/ferry/m365.pem", ClientKeyFile: "/etc/ferry/m365.key", CAFile: "/etc/ferry/token-ca.pem"}
	gmail.Name, gmail.OAuth2 = "gmail", &fax.OAuth2Config{Grant: fax.GrantJWTBearer, ServiceAccountFile: "/etc/ferry/google-sa.json"}
	cfg.Sources.Mailboxes = []config.Mailbox{imap, m365, gmail}
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/imap.pass", "/etc/ferry/m365.secret", "/etc/ferry/m365.key", "/etc/ferry/google-sa.json"} {
		if !slices.Contains(l.Private, f) {
			t.Errorf("%s is not the service's own: %v", f, l.Private)
		}
	}
	for _, f := range []string{"/etc/ferry/mail-ca.pem", "/etc/ferry/m365.pem", "/etc/ferry/token-ca.pem"} {
		if !slices.Contains(l.Readable, f) {
			t.Errorf("%s is not made readable by the service: %v", f, l.Readable)
		}
	}
}

// TestServiceLayoutPublicFiles: certificates and CA files are marked
// public, so that install leaves a system CA bundle others read as it
// is; keys are not, nor a file named both as a certificate and a key.
func TestServiceLayoutPublicFiles(t *testing.T) {
	cfg := config.Default()
	cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile, cfg.Exchange.TLS.CAFile = "/etc/ferry/client.pem", "/etc/ferry/client.key", "/etc/ssl/certs/ca-certificates.crt"
	cfg.Audit.TLS.CertFile, cfg.Audit.TLS.KeyFile = "/etc/ferry/audit.pem", "/etc/ferry/audit.pem"
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	if got, want := strings.Join(l.Public, " "), "/etc/ferry/client.pem /etc/ssl/certs/ca-certificates.crt"; got != want {
		t.Errorf("public files %q, want %q", got, want)
	}
}
