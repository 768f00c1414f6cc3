package ops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferry-health/ferry/config"
)

// ServiceAccount is the account the service runs as, as the file checks
// judge it: its ids, not its name, decide what it may read.
type ServiceAccount struct {
	Name  string
	UID   uint32
	GIDs  []uint32 // the primary group first, then the supplementary ones
	Group string   // the primary group's name; empty: its number is used
}

// namedFile is a file the configuration names and the service must read.
// ownerOnly marks one ferry refuses unless it is 0600 and the service
// account's own (encryption.key_file): the fix is a chown, never a group.
type namedFile struct {
	field, path string
	ownerOnly   bool
}

// configuredFiles lists the key, certificate and CA files cfg names, for
// the parts of the configuration that are in use.
func configuredFiles(cfg *config.Config) []namedFile {
	var out []namedFile
	add := func(field, path string) {
		if path != "" {
			out = append(out, namedFile{field: field, path: path})
		}
	}
	if cfg.Exchange.URL != "" {
		tc := cfg.Exchange.TLS
		add("exchange.tls.ca_file", tc.CAFile)
		add("exchange.tls.cert_file", tc.CertFile)
		add("exchange.tls.key_file", tc.KeyFile)
		if s := cfg.Exchange.Auth.SMART; s.Enabled() {
			add("exchange.auth.smart.key_file", s.KeyFile)
		}
		if u := cfg.Exchange.Auth.UDAP; u.Enabled() {
			add("exchange.auth.udap.cert_file", u.CertFile)
			add("exchange.auth.udap.key_file", u.KeyFile)
			add("exchange.auth.udap.trust_anchors", u.TrustAnchors)
		}
		if cfg.Exchange.FileDrop() {
			add("exchange.sftp.key_file", cfg.Exchange.SFTP.KeyFile)
			add("exchange.sftp.known_hosts", cfg.Exchange.SFTP.KnownHosts)
		}
	}
	for i, f := range cfg.Sources.Folders {
		if f.Fetch != nil {
			p := fmt.Sprintf("sources.folders[%d].fetch", i)
			add(p+".key_file", f.Fetch.KeyFile)
			add(p+".known_hosts", f.Fetch.KnownHosts)
		}
	}
	if cfg.Audit.Enabled() {
		at := cfg.Audit.TLS
		add("audit.tls.ca_file", at.CAFile)
		add("audit.tls.cert_file", at.CertFile)
		add("audit.tls.key_file", at.KeyFile)
	}
	add("proxy.ca_file", cfg.Proxy.CAFile)
	if k := cfg.Encryption.KeyFile; k != "" {
		out = append(out, namedFile{field: "encryption.key_file", path: k, ownerOnly: true})
		for i, p := range cfg.Encryption.PreviousKeyFiles {
			out = append(out, namedFile{field: fmt.Sprintf("encryption.previous_key_files[%d]", i), path: p, ownerOnly: true})
		}
	}
	// A fax mailbox's secrets must be the account's own, as doctor's
	// mailbox check says; read at each poll.
	secret := func(field, path string) {
		if path != "" {
			out = append(out, namedFile{field: field, path: path, ownerOnly: true})
		}
	}
	for i, m := range cfg.Sources.Mailboxes {
		p := fmt.Sprintf("sources.mailboxes[%d]", i)
		add(p+".tls.ca_file", m.TLS.CAFile)
		secret(p+".password_file", m.PasswordFile)
		if o := m.OAuth2; o != nil {
			add(p+".oauth2.ca_file", o.CAFile)
			add(p+".oauth2.client_cert_file", o.ClientCertFile)
			secret(p+".oauth2.client_secret_file", o.ClientSecretFile)
			secret(p+".oauth2.client_key_file", o.ClientKeyFile)
			secret(p+".oauth2.service_account_file", o.ServiceAccountFile)
		}
	}
	for i, m := range cfg.Sources.MLLP {
		if m.TLS == nil {
			continue
		}
		p := fmt.Sprintf("sources.mllp[%d].tls", i)
		add(p+".cert_file", m.TLS.CertFile)
		add(p+".key_file", m.TLS.KeyFile)
		add(p+".client_ca_file", m.TLS.ClientCAFile)
	}
	return out
}

// CheckServiceConfig checks that the service account can read the
// configuration file itself: `sudo ferry doctor` loads it as root, which
// reads anything, and a file left root's alone (written by `sudo ferry
// init` or `sudo ferry restore --write-config`) stops the service at its
// start. Nothing when it can, or with no file or no account to judge.
func CheckServiceConfig(path string, acct *ServiceAccount) []Check {
	if path == "" || acct == nil {
		return nil
	}
	if lvl, msg := readableBy(path, acct, false); lvl != OK {
		return []Check{{Area: "access", Name: "configuration " + path, Level: lvl, Detail: msg}}
	}
	return nil
}

// CheckServiceFiles checks that the service account can read every key,
// certificate and CA file the configuration names. `sudo ferry doctor`
// reads them as root, which reads anything: a key left root-only (0600)
// passes every other check and fails the service at start. acct is nil
// when the check cannot be made; skip then says why, and the output says
// so instead of passing silently.
func CheckServiceFiles(cfg *config.Config, acct *ServiceAccount, skip string) []Check {
	files := configuredFiles(cfg)
	if len(files) == 0 {
		return nil
	}
	if acct == nil {
		return []Check{{Area: "access", Name: "service account files", Level: OK, Detail: "not checked: " + skip}}
	}
	var out []Check
	for _, f := range files {
		if lvl, msg := readableBy(f.path, acct, f.ownerOnly); lvl != OK {
			out = append(out, Check{Area: "access", Name: f.field + " " + f.path, Level: lvl, Detail: msg})
		}
	}
	if len(out) == 0 {
		// A file that is not there is no file the account can read:
		// counted apart (another check of doctor's says it is missing).
		missing := 0
		for _, f := range files {
			if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
				missing++
			}
		}
		n := len(files) - missing
		detail := fmt.Sprintf("the service account %s (uid %d) can read the %d %s the configuration names", acct.Name, acct.UID, n, plural(n, "file", "files"))
		if missing > 0 {
			detail += fmt.Sprintf(" that exist (%d %s missing)", missing, plural(missing, "is", "are"))
		}
		out = append(out, Check{Area: "access", Name: "service account files", Level: OK, Detail: detail})
	}
	return out
}
