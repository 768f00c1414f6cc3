//go:build !windows

package ops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
)

// TestServiceFilesRootOnlyKey: doctor runs as root, which reads anything;
// a key the service account cannot read (root's 0600, in a root-only
// folder) must fail the check with the commands that fix it, and after
// running exactly those commands the check passes. The account is a uid
// and gid no one uses, which root can give files to without creating it.
func TestServiceFilesRootOnlyKey(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another uid")
	}
	const id = 54321
	// Named by its number, so that the chown doctor prints runs here.
	acct := &ServiceAccount{Name: "54321", UID: id, GIDs: []uint32{id}}
	base := t.TempDir()
	tlsDir := filepath.Join(base, "etc", "ferry tls") // a space: the commands must quote it
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(base), base, filepath.Join(base, "etc")} {
		os.Chmod(d, 0o755)
	}
	key := writeMode(t, filepath.Join(tlsDir, "client.key"), 0o600)
	cert := writeMode(t, filepath.Join(tlsDir, "client.pem"), 0o644)
	// Root's 0600 data-at-rest key: given to the account, never to a
	// group (ferry refuses it unless 0600).
	encKey := writeMode(t, filepath.Join(base, "seal.key"), 0o600)
	// The audit CA belongs to the account but its owner bits lack r.
	auditCA := writeMode(t, filepath.Join(base, "audit-ca.pem"), 0o200)
	if err := os.Chown(auditCA, id, id); err != nil {
		t.Fatal(err)
	}
	// The proxy CA is a symbolic link into a folder the account cannot search.
	hidden := filepath.Join(base, "hidden")
	os.Mkdir(hidden, 0o700)
	caReal := writeMode(t, filepath.Join(hidden, "proxy-ca.pem"), 0o644)
	caLink := filepath.Join(base, "proxy-ca.pem")
	if err := os.Symlink(caReal, caLink); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.Exchange.URL = "https://hie.example/fhir"
	cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile = cert, key
	cfg.Encryption.KeyFile = encKey
	cfg.Audit.URL = "tls://audit.example:6514"
	cfg.Audit.TLS.CAFile = auditCA
	auditKey := writeMode(t, filepath.Join(base, "audit.key"), 0o600)
	cfg.Audit.TLS.KeyFile = auditKey
	cfg.Proxy.CAFile = caLink

	checks := CheckServiceFiles(cfg, acct, "")
	got := map[string]Check{}
	for _, c := range checks {
		got[strings.Fields(c.Name)[0]] = c
	}
	want := map[string][]string{
		"exchange.tls.key_file":  {"cannot search folder " + tlsDir, "cannot read " + key, "chgrp 54321 '" + tlsDir + "' && chmod g+x '" + tlsDir + "'", "chmod g+r '" + key + "'"},
		"exchange.tls.cert_file": {"cannot search folder " + tlsDir},
		"encryption.key_file":    {"cannot read " + encKey, "Fix: chown 54321 " + encKey + " && chmod 0600 " + encKey},
		"audit.tls.ca_file":      {"cannot read " + auditCA, "chmod u+r " + auditCA},
		"proxy.ca_file":          {"cannot search folder " + hidden, "chmod g+x " + hidden},
		"audit.tls.key_file":     {"cannot read " + auditKey, "chgrp 54321 " + auditKey + " && chmod g+r " + auditKey},
	}
	for field, parts := range want {
		c, ok := got[field]
		if !ok || c.Level != Fail {
			t.Errorf("%s: %+v, want a failure", field, c)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(c.Detail, p) {
				t.Errorf("%s: %q lacks %q", field, c.Detail, p)
			}
		}
	}
	if len(checks) != len(want) {
		t.Errorf("checks %+v", checks)
	}
	if Worst(Doctor(context.Background(), cfg, DoctorOptions{ServiceFiles: acct, Timeout: 1})) != Fail {
		t.Error("doctor passes with a key the service account cannot read")
	}

	// Run the fixes doctor printed, in order, as an operator would.
	for _, c := range checks {
		fix := c.Detail[strings.Index(c.Detail, "Fix: ")+len("Fix: "):]
		if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", fix, err, out)
		}
	}
	checks = CheckServiceFiles(cfg, acct, "")
	if len(checks) != 1 || checks[0].Level != OK || !strings.Contains(checks[0].Detail, "can read the 6 files") {
		t.Fatalf("after the fixes: %+v", checks)
	}
	// A file that does not exist is not one the account can read (doctor
	// says it is missing in a check of its own): the summary counts the
	// files that are there and says how many are not.
	cfg.Exchange.TLS.CAFile = filepath.Join(base, "missing-ca.pem")
	checks = CheckServiceFiles(cfg, acct, "")
	if len(checks) != 1 || checks[0].Level != OK || !strings.Contains(checks[0].Detail, "can read the 6 files the configuration names that exist (1 is missing)") {
		t.Fatalf("with a missing file: %+v", checks)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o640 {
		t.Errorf("key mode %04o after the fix, want 0640 (others still kept out)", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(encKey); fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != id {
		t.Errorf("encryption key mode %04o after the fix, want 0600 and the account's", fi.Mode().Perm())
	}
}

// TestServiceFilesSkipped: without an account to judge for, the check
// says it did not run, and why.
func TestServiceFilesSkipped(t *testing.T) {
	cfg := &config.Config{}
	cfg.Encryption.KeyFile = "/etc/ferry/seal.key"
	acct, why := LookupServiceAccount("no-such-ferry-account")
	if acct != nil || !strings.Contains(why, "no account no-such-ferry-account") {
		t.Fatalf("lookup = %+v, %q", acct, why)
	}
	checks := CheckServiceFiles(cfg, acct, why)
	if len(checks) != 1 || checks[0].Level != OK || !strings.HasPrefix(checks[0].Detail, "not checked: there is no account") {
		t.Fatalf("checks %+v", checks)
	}
	if CheckServiceFiles(&config.Config{}, nil, why) != nil {
		t.Error("a configuration that names no files still gets a line")
	}
}

func writeMode(t *testing.T, p string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFoldersServiceAccountWrite: `sudo ferry doctor` probes the folders
// as root, which may write anywhere. A drop folder only root may write, a
// work folder a trial `ferry run` as root left behind (root's, 0700) and
// a HylaFAX work folder's parent the account cannot create it in must
// fail with the commands that fix them; after running exactly those, the
// checks pass. Before, each said "exists and is writable" and the service
// then took no file (FOLDER STUCK).
func TestFoldersServiceAccountWrite(t *testing.T) {
	const id = 54321
	acct, base := otherAccount(t)
	exports := filepath.Join(base, "ehr exports") // a space: the commands must quote it
	work := filepath.Join(exports, ".ferry")
	if err := os.MkdirAll(filepath.Join(work, "done"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(exports, 0o755)
	spool := filepath.Join(base, "spool")
	recvq := filepath.Join(spool, "recvq")
	if err := os.MkdirAll(recvq, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(spool, 0o755)
	if err := os.Chown(recvq, id, id); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(base, "data")
	cfg.Sources.Folders = []config.Folder{
		{Config: fax.Config{Config: folder.Config{Name: "ehr", Kind: "ehr", Path: exports}}},
		{Config: fax.Config{Config: folder.Config{Name: "hylafax", Kind: "hylafax", Path: recvq}}},
	}
	find := func(checks []Check, name string) *Check {
		for i := range checks {
			if strings.HasSuffix(checks[i].Name, name) {
				return &checks[i]
			}
		}
		return nil
	}
	opts := DoctorOptions{ServiceFiles: acct}
	checks := CheckFolders(cfg, opts)
	want := map[string][]string{
		"] " + exports:                 {"cannot create files in " + exports, "FOLDER STUCK", "Fix: chgrp 54321 '" + exports + "' && chmod g+wx '" + exports + "'"},
		"work folder " + work:          {"cannot create files in " + work, "Fix: chown -R 54321:54321 '" + work + "'"},
		"work_dir " + spool + "/ferry": {"does not exist, and the service cannot create it", "cannot create files in " + spool, "chgrp 54321 " + spool + " && chmod g+wx " + spool},
	}
	var fixes []string
	for name, parts := range want {
		c := find(checks, name)
		if c == nil || c.Level != Fail {
			t.Errorf("%s: %+v, want a failure in %+v", name, c, checks)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(c.Detail, p) {
				t.Errorf("%s: %q lacks %q", name, c.Detail, p)
			}
		}
		if i := strings.Index(c.Detail, "Fix: "); i >= 0 {
			fix := c.Detail[i+len("Fix: "):]
			if j := strings.Index(fix, "; or "); j >= 0 {
				fix = fix[:j]
			}
			fixes = append(fixes, fix)
		}
	}
	// Without the account (not root, or no such account) nothing changes.
	if c := find(CheckFolders(cfg, DoctorOptions{}), "] "+exports); c == nil || c.Level != OK {
		t.Errorf("without an account: %+v", c)
	}
	for _, fix := range fixes {
		if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", fix, err, out)
		}
	}
	for _, c := range CheckFolders(cfg, opts) {
		if c.Level == Fail {
			t.Errorf("after the fixes: %+v", c)
		}
	}
	if st, _ := os.Stat(filepath.Join(work, "done")); st.Sys().(*syscall.Stat_t).Uid != id {
		t.Error("the work folder's sub-folders were not given to the account")
	}
}

// TestServiceFilesSFTPLogins: the SSH keys and known_hosts files of an
// sftp:// exchange and of a folder's fetch are read by the service at each
// login; doctor, which logs in as root, must say when the account cannot
// read them, as it does for the TLS keys.
func TestServiceFilesSFTPLogins(t *testing.T) {
	acct, base := otherAccount(t)
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.Exchange.URL = "sftp://clinic7@sftp.hie.example/inbound"
	cfg.Exchange.SFTP.KeyFile = writeMode(t, filepath.Join(base, "hie_ed25519"), 0o600)
	cfg.Exchange.SFTP.KnownHosts = writeMode(t, filepath.Join(base, "hie_known_hosts"), 0o600)
	var f config.Folder
	f.Name, f.Kind, f.Path = "athena", "ehr", t.TempDir()
	f.Fetch = &fetch.Config{URL: "sftp://clinic7@sftp.ehr.example/outbound"}
	f.Fetch.KeyFile = writeMode(t, filepath.Join(base, "ehr_ed25519"), 0o600)
	f.Fetch.KnownHosts = writeMode(t, filepath.Join(base, "known_hosts"), 0o600)
	cfg.Sources.Folders = []config.Folder{f}
	got, details := map[string]Level{}, map[string]string{}
	for _, c := range CheckServiceFiles(cfg, acct, "") {
		got[strings.Fields(c.Name)[0]], details[strings.Fields(c.Name)[0]] = c.Level, c.Detail
	}
	for _, field := range []string{"exchange.sftp.key_file", "exchange.sftp.known_hosts", "sources.folders[0].fetch.key_file", "sources.folders[0].fetch.known_hosts"} {
		if got[field] != Fail || !strings.Contains(details[field], "cannot read ") {
			t.Errorf("%s: root's 0600 file not reported (%v)", field, got)
		}
	}
}

// TestServiceFilesPreviousKeys: a previous data-at-rest key the account
// cannot read stops the gateway at start as key_file would; doctor
// reports it with the chown that fixes it.
func TestServiceFilesPreviousKeys(t *testing.T) {
	acct, base := otherAccount(t)
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.Encryption.KeyFile = writeMode(t, filepath.Join(base, "new.key"), 0o600)
	if err := os.Chown(cfg.Encryption.KeyFile, 54321, 54321); err != nil {
		t.Fatal(err)
	}
	old := writeMode(t, filepath.Join(base, "old.key"), 0o600)
	cfg.Encryption.PreviousKeyFiles = []string{old}
	checks := CheckServiceFiles(cfg, acct, "")
	if len(checks) != 1 || checks[0].Level != Fail || !strings.HasPrefix(checks[0].Name, "encryption.previous_key_files[0] ") ||
		!strings.Contains(checks[0].Detail, "chown 54321 "+old+" && chmod 0600 "+old) {
		t.Fatalf("root's previous key: %+v", checks)
	}
}

// TestServiceFilesMailboxSecrets: doctor logs in to a fax mailbox as
// root; the service reads the password file (and the OAuth 2.0 files) at
// each poll as its own account, so one it cannot read must fail the
// service-account check, fixed by giving it to the account (0600).
func TestServiceFilesMailboxSecrets(t *testing.T) {
	acct, base := otherAccount(t)
	cfg := &config.Config{DataDir: t.TempDir()}
	var imap, m365 config.Mailbox
	imap.Name, imap.PasswordFile = "efax", writeMode(t, filepath.Join(base, "imap.pass"), 0o600)
	imap.TLS.CAFile = writeMode(t, filepath.Join(base, "mail-ca.pem"), 0o600)
	m365.Name, m365.OAuth2 = "m365", &fax.OAuth2Config{ClientKeyFile: writeMode(t, filepath.Join(base, "m365.key"), 0o600)}
	cfg.Sources.Mailboxes = []config.Mailbox{imap, m365}
	details := map[string]string{}
	for _, c := range CheckServiceFiles(cfg, acct, "") {
		if c.Level == Fail {
			details[strings.Fields(c.Name)[0]] = c.Detail
		}
	}
	for field, fix := range map[string]string{
		"sources.mailboxes[0].password_file":          "chown 54321 " + imap.PasswordFile + " && chmod 0600 " + imap.PasswordFile,
		"sources.mailboxes[0].tls.ca_file":            "chgrp 54321 " + imap.TLS.CAFile,
		"sources.mailboxes[1].oauth2.client_key_file": "chown 54321 " + m365.OAuth2.ClientKeyFile,
	} {
		if !strings.Contains(details[field], fix) {
			t.Errorf("%s: %q, want a failure fixed by %q", field, details[field], fix)
		}
	}
}

// otherAccount is a service account of uid and gid 54321, which no user
// on the machine has, and a folder that account may pass through (0755)
// for the files a test gives it or keeps from it. It skips the test when
// not run as root, which judging or giving files for another uid needs.
func otherAccount(t *testing.T) (*ServiceAccount, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to judge or give files for another uid")
	}
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	return &ServiceAccount{Name: "54321", UID: 54321, GIDs: []uint32{54321}}, base
}

// TestServiceConfigFileReadable: `sudo ferry doctor --config FILE` read
// the configuration as root and said "ok config" for a file the service
// account cannot read (root's 0600 or 0640 root:root, as `sudo ferry init`
// or `sudo ferry restore --write-config` leave one), so the service then
// failed at its start on the very file doctor passed. Doctor now judges
// the configuration file as it judges the key files, with the fix.
func TestServiceConfigFileReadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another uid")
	}
	const id = 54321
	acct := &ServiceAccount{Name: "54321", UID: id, GIDs: []uint32{id}}
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	file := writeMode(t, filepath.Join(base, "ferry.yaml"), 0o640)
	cfg := &config.Config{DataDir: t.TempDir()}

	var c *Check
	for _, ch := range Doctor(context.Background(), cfg, DoctorOptions{ServiceFiles: acct, ConfigFile: file, Timeout: 1}) {
		if ch.Area == "access" && strings.Contains(ch.Name, file) {
			c = &ch
		}
	}
	if c == nil || c.Level != Fail || !strings.Contains(c.Detail, "cannot read "+file) || !strings.Contains(c.Detail, "chgrp 54321 "+file+" && chmod g+r "+file) {
		t.Fatalf("configuration check: %+v", c)
	}
	fix := c.Detail[strings.Index(c.Detail, "Fix: ")+len("Fix: "):]
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fix, err, out)
	}
	if cs := CheckServiceConfig(file, acct); len(cs) != 0 {
		t.Fatalf("after the fix: %+v", cs)
	}
	if CheckServiceConfig("", acct) != nil || CheckServiceConfig(file, nil) != nil {
		t.Error("checked without a file or an account")
	}
}
