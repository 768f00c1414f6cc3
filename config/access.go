package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// ParseAllow parses one entry of an MLLP listener's allow list: an IPv4 or
// IPv6 address (a network of one) or a CIDR network. Host bits after the
// prefix length are ignored (10.1.2.3/24 is 10.1.2.0/24), as in most
// firewall syntaxes. IPv6 zones are refused: a zone names an interface of
// this machine, not a sender.
func ParseAllow(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR network (like 10.1.2.0/24 or fd00::/8)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR network (like 10.1.2.0/24 or fd00::/8)", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AllowPrefixes returns the listener's allow list parsed; Validate has
// reported any entry it returns an error for.
func (m MLLP) AllowPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(m.Allow))
	for i, s := range m.Allow {
		p, err := ParseAllow(s)
		if err != nil {
			return nil, fmt.Errorf("allow[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Open reports whether the listener accepts HL7 from any host that can
// reach it: it listens beyond loopback, its allow list is empty (or admits
// every address), and it does not require client certificates. Such a
// listener lets anyone on the network send messages that go to the
// exchange under the clinic's identity.
func (m MLLP) Open() bool {
	if m.TLS != nil && m.TLS.ClientCAFile != "" {
		return false
	}
	if !listensBeyondLoopback(m.Listen) {
		return false
	}
	if len(m.Allow) == 0 {
		return true
	}
	for _, s := range m.Allow {
		if p, err := ParseAllow(s); err == nil && p.Bits() == 0 {
			return true // 0.0.0.0/0 or ::/0 restricts nothing
		}
	}
	return false
}

// listensBeyondLoopback reports whether addr (host:port) can be reached
// from other machines: an empty or unspecified host, any non-loopback
// address, or a host name other than localhost (names are not resolved
// offline, so they count as reachable).
func listensBeyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false // Validate reports it
	}
	if strings.EqualFold(host, "localhost") {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return true
	}
	return !a.Unmap().IsLoopback()
}

// Warnings returns what is allowed but probably unwise in the
// configuration, for `ferry config check`, `ferry doctor` and the log at
// startup. Unlike Validate's problems they do not stop ferry: an existing
// installation keeps working after an upgrade, and the operator is told.
// Lines are filled in for a configuration that came from Parse.
func (c *Config) Warnings() []Problem {
	var ws []Problem
	for i, m := range c.Sources.MLLP {
		// Before the warning about senders, which ferry doctor's access
		// check takes as a listener's last one.
		if _, port, err := net.SplitHostPort(m.Listen); err == nil && port == "0" {
			ws = append(ws, Problem{Path: fmt.Sprintf("sources.mllp[%d].listen", i), Msg: fmt.Sprintf(
				"%s: port 0 lets the system pick another port at every start, which no sender can be pointed at; give the port the senders send to (2575 is MLLP's usual one)", m.Listen)})
		}
		if m.Open() {
			ws = append(ws, Problem{Path: fmt.Sprintf("sources.mllp[%d].listen", i), Msg: fmt.Sprintf(
				"%s accepts HL7 from any host that can reach it and sends it on to the exchange as this clinic's: "+
					"set allow to the senders' addresses, or tls.client_ca_file for mutual TLS (IHE ATNA ITI-19 asks for mutual authentication of nodes)", m.Listen)})
		}
	}
	if c.Exchange.TakesV2() {
		how := "over MLLP (exchange.url mllps://)"
		if c.Exchange.FileDrop() {
			how = "as files (exchange.sftp.format hl7v2)"
		}
		for i, f := range c.Sources.Folders {
			msg := "the exchange takes HL7 v2 " + how + ": "
			switch f.Kind {
			case "fax", "hylafax":
				msg += "faxes have no HL7 v2 message to forward and will be dead-lettered"
			default:
				msg += "only HL7 v2 files from this folder can be forwarded; C-CDA and FHIR documents will be dead-lettered"
			}
			ws = append(ws, Problem{Path: fmt.Sprintf("sources.folders[%d].kind", i), Msg: msg})
		}
		for i := range c.Sources.Mailboxes {
			ws = append(ws, Problem{Path: fmt.Sprintf("sources.mailboxes[%d]", i),
				Msg: "the exchange takes HL7 v2 " + how + ": faxes have no HL7 v2 message to forward and will be dead-lettered"})
		}
	}
	if c.root != nil {
		for i := range ws {
			ws[i].Line = lineOf(c.root, ws[i].Path)
		}
	}
	return ws
}

// CheckKeyFileModes checks the TLS private keys the configuration names,
// as the gateway will when it loads them: a key file that other accounts
// can read is a problem (configtls refuses it, on Unix). Files that do not
// exist yet are skipped: `ferry config check` may run before the
// certificates are installed, and `ferry doctor` reports missing files.
// The error is a *Error naming each field.
func (c *Config) CheckKeyFileModes() error {
	type keyFile struct{ path, file string }
	var keys []keyFile
	for i, m := range c.Sources.MLLP {
		if m.TLS != nil && m.TLS.KeyFile != "" {
			keys = append(keys, keyFile{fmt.Sprintf("sources.mllp[%d].tls.key_file", i), m.TLS.KeyFile})
		}
	}
	if c.Exchange.URL != "" && c.Exchange.TLS.KeyFile != "" {
		keys = append(keys, keyFile{"exchange.tls.key_file", c.Exchange.TLS.KeyFile})
	}
	if c.Exchange.URL != "" && c.Exchange.Auth.SMART.KeyFile != "" {
		keys = append(keys, keyFile{"exchange.auth.smart.key_file", c.Exchange.Auth.SMART.KeyFile})
	}
	if c.Exchange.URL != "" && c.Exchange.Auth.UDAP.KeyFile != "" {
		keys = append(keys, keyFile{"exchange.auth.udap.key_file", c.Exchange.Auth.UDAP.KeyFile})
	}
	for i, f := range c.Sources.Folders {
		if f.Fetch != nil && f.Fetch.KeyFile != "" {
			keys = append(keys, keyFile{fmt.Sprintf("sources.folders[%d].fetch.key_file", i), f.Fetch.KeyFile})
		}
	}
	if c.Exchange.FileDrop() && c.Exchange.SFTP.KeyFile != "" {
		keys = append(keys, keyFile{"exchange.sftp.key_file", c.Exchange.SFTP.KeyFile})
	}
	if c.Audit.URL != "" && c.Audit.TLS.KeyFile != "" {
		keys = append(keys, keyFile{"audit.tls.key_file", c.Audit.TLS.KeyFile})
	}
	var ps []Problem
	for _, k := range keys {
		if _, err := os.Stat(k.file); err != nil {
			continue
		}
		if err := configtls.KeyFileMode(k.file); err != nil {
			p := Problem{Path: k.path, Msg: strings.TrimPrefix(err.Error(), "key_file ")}
			if c.root != nil {
				p.Line = lineOf(c.root, k.path)
			}
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &Error{File: c.source, Problems: ps}
}

// CheckTLSFiles loads the certificates, keys and CA bundles the
// configuration names, as the gateway will: for each MLLP listener with
// TLS, the exchange (its SMART key, UDAP certificate and key too), the
// audit repository and each fax mailbox. A file that is there but
// cannot be used (a key that belongs to another certificate, an expired
// certificate, a CA bundle with no certificate, a key others can read)
// is a problem, returned as a *Error naming the field. A file that does
// not exist yet is only a warning, in missing: `ferry config check` may
// run before the certificates are installed, as the package's own
// configuration does. Only the first problem of each tls block is found.
func (c *Config) CheckTLSFiles() (missing []Problem, err error) {
	type loaded struct {
		path string
		err  error
	}
	var tried []loaded
	for i, m := range c.Sources.MLLP {
		if m.TLS != nil {
			_, lerr := m.TLS.LoadTLSConfig()
			tried = append(tried, loaded{fmt.Sprintf("sources.mllp[%d].tls", i), lerr})
		}
	}
	if c.Exchange.URL != "" {
		_, lerr := c.Exchange.TLS.LoadTLSConfig()
		tried = append(tried, loaded{"exchange.tls", lerr})
	}
	// The SMART key and the UDAP certificate and key are loaded when the
	// gateway connects to the exchange, which it retries without end
	// while one cannot be used: every bundle waits, as for the exchange's
	// tls files.
	if c.Exchange.URL != "" && !c.Exchange.MLLP() && !c.Exchange.FileDrop() {
		if s := c.Exchange.Auth.SMART; s.Enabled() && s.KeyFile != "" {
			_, lerr := fhirhttp.LoadSMARTKey(s.KeyFile)
			tried = append(tried, loaded{"exchange.auth.smart", lerr})
		}
		if u := c.Exchange.Auth.UDAP; u.Enabled() && u.CertFile != "" && u.KeyFile != "" {
			_, lerr := fhirhttp.LoadUDAPClient(u.CertFile, u.KeyFile)
			tried = append(tried, loaded{"exchange.auth.udap", lerr})
		}
	}
	if c.Audit.URL != "" && c.Audit.TLS != (configtls.ClientConfig{}) {
		_, lerr := c.Audit.TLS.LoadTLSConfig()
		tried = append(tried, loaded{"audit.tls", lerr})
	}
	// A mailbox's CA files are read when the gateway starts, which it
	// refuses to do with one it cannot use.
	for i, mb := range c.Sources.Mailboxes {
		if mb.TLS != (configtls.ClientConfig{}) {
			_, lerr := mb.TLS.LoadTLSConfig()
			tried = append(tried, loaded{fmt.Sprintf("sources.mailboxes[%d].tls", i), lerr})
		}
		if mb.OAuth2 != nil && mb.OAuth2.CAFile != "" {
			_, lerr := configtls.ClientConfig{CAFile: mb.OAuth2.CAFile}.LoadTLSConfig()
			tried = append(tried, loaded{fmt.Sprintf("sources.mailboxes[%d].oauth2", i), lerr})
		}
	}
	var ps []Problem
	for _, b := range tried {
		if b.err == nil {
			continue
		}
		p := Problem{Path: b.path, Msg: b.err.Error()}
		if c.root != nil {
			p.Line = lineOf(c.root, b.path)
		}
		if errors.Is(b.err, fs.ErrNotExist) {
			missing = append(missing, p)
		} else {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		err = &Error{File: c.source, Problems: ps}
	}
	return missing, err
}
