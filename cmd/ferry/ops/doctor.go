// Package ops holds the operator-facing checks and tools behind `ferry
// doctor`, `ferry status`, `ferry queue`, `ferry backfill` and the
// scheduled housekeeping jobs. It is kept apart from package main so each
// piece can be tested against real files, real sockets and a real TLS
// server without starting a gateway.
package ops

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/transport/fhirhttp"
	"github.com/ferry-health/ferry/transport/mllptls"
	"github.com/ferry-health/ferry/transport/neterr"
	"github.com/ferry-health/ferry/transport/sftpdrop"
)

// Level grades a check.
type Level int

// The levels, from good to bad.
const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	default:
		return "FAIL"
	}
}

// Check is one finding of the doctor, in plain words.
type Check struct {
	Area   string // "certificate", "exchange", "folder", "disk", "port"
	Name   string // what was checked, e.g. the file or address
	Level  Level
	Detail string
}

// DoctorOptions tunes the checks; the zero value is for production.
type DoctorOptions struct {
	// Now is the time certificates are judged at (default time.Now).
	Now time.Time
	// Timeout bounds the exchange connection (default 10s).
	Timeout time.Duration
	// ExpiryWarning is how close to expiry a certificate draws a warning
	// (default 30 days).
	ExpiryWarning time.Duration
	// ServiceAccount, when set, is the account the folders should belong
	// to (on Unix).
	ServiceAccount string
	// ServiceFiles, when set, is the account CheckServiceFiles judges the
	// configured key and certificate files for; when nil,
	// ServiceFilesSkip says why not (see LookupServiceAccount).
	ServiceFiles     *ServiceAccount
	ServiceFilesSkip string
	// ConfigFile is the configuration file the service reads at its
	// start, judged for ServiceFiles too; empty: the embedded default.
	ConfigFile string
	// MinFreeBytes fails the disk check below it (default 256 MiB).
	MinFreeBytes uint64
	// SyncSamples is how many write + fdatasync rounds the flush probe
	// times (default 64).
	SyncSamples int
}

func (o *DoctorOptions) defaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ExpiryWarning == 0 {
		o.ExpiryWarning = 30 * 24 * time.Hour
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 256 << 20
	}
	if o.SyncSamples <= 0 {
		o.SyncSamples = 64
	}
}

// Doctor runs every check against cfg and returns the findings in a fixed
// order: certificates, proxy, exchange, folders, log, disk (space, flush latency), ports, access,
// service account files, encryption.
func Doctor(ctx context.Context, cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	var out []Check
	out = append(out, CheckCertificates(cfg, opts)...)
	out = append(out, CheckProxy(cfg)...)
	out = append(out, CheckExchange(ctx, cfg, opts)...)
	out = append(out, CheckMailboxes(ctx, cfg)...)
	out = append(out, CheckFetches(ctx, cfg)...)
	out = append(out, CheckFolders(cfg, opts)...)
	out = append(out, CheckLog(cfg, runtime.GOOS))
	out = append(out, CheckDisk(cfg, opts)...)
	out = append(out, CheckDiskSync(cfg, opts)...)
	out = append(out, CheckPorts(ctx, cfg)...)
	out = servicePorts(out, cfg, opts.ServiceFiles)
	out = append(out, CheckAccess(cfg)...)
	skip := opts.ServiceFilesSkip
	if skip == "" {
		skip = "no service account to check for"
	}
	out = append(out, CheckServiceConfig(opts.ConfigFile, opts.ServiceFiles)...)
	out = append(out, CheckServiceFiles(cfg, opts.ServiceFiles, skip)...)
	out = append(out, CheckEncryption(cfg)...)
	out = append(out, CheckHoldPolicy(cfg)...)
	out = append(out, CheckBackup(cfg, time.Now())...)
	return out
}

// CheckFetches logs in to the SFTP server each folder fetches from,
// checks its host key and lists the directory (taking nothing), and says
// how many files wait there.
func CheckFetches(ctx context.Context, cfg *config.Config) []Check {
	var out []Check
	for i, f := range cfg.Sources.Folders {
		if f.Fetch == nil {
			continue
		}
		c := Check{Area: "folders", Name: fmt.Sprintf("sources.folders[%d].fetch %s", i, f.Name)}
		fe, err := fetch.New(adapters.Settings{}, *f.Fetch, f.Path, nil)
		var n int
		if err == nil {
			// As the gateway fetches: only what the folder takes.
			if eng := folderEngine(f); eng != nil {
				fe.Only(eng.Uses)
			}
			n, err = fe.Check(ctx)
		}
		if err != nil {
			c.Level, c.Detail = Fail, err.Error()
		} else {
			c.Detail = fmt.Sprintf("SSH login ok, host key as known_hosts names it; %d file(s) wait to be fetched", n)
		}
		out = append(out, c)
	}
	return out
}

// folderEngine is the folder engine the gateway runs for f, its kind's
// include list and sidecars applied (not started: it touches nothing), or
// nil when f's settings make none.
func folderEngine(f config.Folder) *folder.Engine {
	nothing := adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil })
	switch f.Kind {
	case "ehr":
		if s, err := ehrdrop.New(adapters.Settings{}, f.Config.Config, nothing); err == nil {
			return s.Engine()
		}
	case fax.KindFax, fax.KindHylaFAX:
		if s, err := fax.New(adapters.Settings{}, f.Config, nothing); err == nil {
			return s.Engine()
		}
	}
	return nil
}

// CheckMailboxes logs in to each fax mailbox (read-only) and says how
// many messages wait there; it warns about a password file others may
// read.
func CheckMailboxes(ctx context.Context, cfg *config.Config) []Check {
	var out []Check
	for i, mb := range cfg.Sources.Mailboxes {
		c := Check{Area: "mailbox", Name: fmt.Sprintf("sources.mailboxes[%d] %s (%s)", i, mb.Name, mb.Address)}
		tc, err := mb.TLS.LoadTLSConfig()
		var mc fax.MailboxConfig
		if err == nil {
			mc, err = mb.Resolved(cfg.Proxy)
		}
		if err == nil {
			var m *fax.Mailbox
			if m, err = fax.NewMailbox(adapters.Settings{}, mc, tc, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }), nil); err == nil {
				var n uint32
				if n, err = m.Check(ctx); err == nil {
					how := "over TLS"
					if mb.OAuth2 != nil {
						how = "over TLS with an OAuth 2.0 token"
					}
					c.Detail = fmt.Sprintf("logged in as %s %s; %s holds %d message(s) to read", mb.Username, how, m.Config().Mailbox, n)
				}
			}
		}
		if err != nil {
			c.Level, c.Detail = Fail, err.Error()
		}
		out = append(out, c)
		secret := mb.PasswordFile
		if o := mb.OAuth2; o != nil {
			switch {
			case o.Grant == fax.GrantJWTBearer:
				secret = o.ServiceAccountFile
			case o.ClientKeyFile != "":
				secret = o.ClientKeyFile
			default:
				secret = o.ClientSecretFile
			}
		}
		if fi, err := os.Stat(secret); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, Check{Area: "mailbox", Name: secret, Level: Warn,
				Detail: fmt.Sprintf("the mailbox's secret file is mode %04o: others may read it; chmod 600 it (owned by the ferry account)", fi.Mode().Perm())})
		}
	}
	return out
}

// Worst returns the most serious level among checks.
func Worst(checks []Check) Level {
	w := OK
	for _, c := range checks {
		if c.Level > w {
			w = c.Level
		}
	}
	return w
}

// PrintChecks writes one line per check and a summary line.
func PrintChecks(w io.Writer, checks []Check) {
	counts := map[Level]int{}
	for _, c := range checks {
		counts[c.Level]++
		fmt.Fprintf(w, "%-4s  %-11s %s: %s\n", c.Level, c.Area, c.Name, c.Detail)
	}
	fmt.Fprintf(w, "\n%d ok, %d warning(s), %d problem(s)\n", counts[OK], counts[Warn], counts[Fail])
}

// CheckCertificates checks every configured certificate: that it can be
// read, is valid now, how many days it has left, that the key matches, and
// that it chains to the CA it will be judged by.
func CheckCertificates(cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	var out []Check
	tc := cfg.Exchange.TLS
	if cfg.Exchange.URL != "" {
		if tc.CAFile != "" {
			out = append(out, caCheck("exchange.tls.ca_file", tc.CAFile, opts))
		}
		if tc.CertFile != "" {
			// ferry's client certificate is judged by the exchange, whose
			// CA ferry may not know; the exchange's CA file is the usual
			// issuer when one party runs the PKI, so a chain to it is
			// reported but a miss only warns.
			out = append(out, leafCheck("exchange.tls.cert_file", tc.CertFile, tc.KeyFile, tc.CAFile, x509.ExtKeyUsageClientAuth, false, opts))
		}
	}
	// UDAP: ferry's community certificate (with its key) and the anchors
	// the exchange's metadata signer must chain to.
	if u := cfg.Exchange.Auth.UDAP; cfg.Exchange.URL != "" && u.Enabled() {
		if u.TrustAnchors != "" {
			out = append(out, caCheck("exchange.auth.udap.trust_anchors", u.TrustAnchors, opts))
		}
		if u.CertFile != "" {
			out = append(out, leafCheck("exchange.auth.udap.cert_file", u.CertFile, u.KeyFile, u.TrustAnchors, x509.ExtKeyUsageAny, false, opts))
		}
	}
	// The audit repository judges the audit client certificate as the
	// exchange judges its own; when it expires the spool fills and the
	// oldest events are dropped.
	if at := cfg.Audit.TLS; cfg.Audit.Enabled() {
		if at.CAFile != "" {
			out = append(out, caCheck("audit.tls.ca_file", at.CAFile, opts))
		}
		if at.CertFile != "" {
			out = append(out, leafCheck("audit.tls.cert_file", at.CertFile, at.KeyFile, at.CAFile, x509.ExtKeyUsageClientAuth, false, opts))
		}
	}
	// Every HTTP request ferry makes through an https proxy depends on
	// the proxy's CA too.
	if cfg.Proxy.CAFile != "" {
		out = append(out, caCheck("proxy.ca_file", cfg.Proxy.CAFile, opts))
	}
	for i, m := range cfg.Sources.MLLP {
		if m.TLS == nil {
			continue
		}
		p := fmt.Sprintf("sources.mllp[%d].tls", i)
		out = append(out, leafCheck(p+".cert_file", m.TLS.CertFile, m.TLS.KeyFile, "", x509.ExtKeyUsageServerAuth, false, opts))
		if m.TLS.ClientCAFile != "" {
			out = append(out, caCheck(p+".client_ca_file", m.TLS.ClientCAFile, opts))
		}
	}
	for i, mb := range cfg.Sources.Mailboxes {
		p := fmt.Sprintf("sources.mailboxes[%d]", i)
		if mb.TLS.CAFile != "" {
			out = append(out, caCheck(p+".tls.ca_file", mb.TLS.CAFile, opts))
		}
		if mb.OAuth2 != nil && mb.OAuth2.CAFile != "" {
			out = append(out, caCheck(p+".oauth2.ca_file", mb.OAuth2.CAFile, opts))
		}
		// The app's certificate signs every token request: expired, the
		// token endpoint refuses it and no fax is taken. Its key is no
		// TLS key_file: the mailbox check's login above signs with it.
		if mb.OAuth2 != nil && mb.OAuth2.ClientCertFile != "" {
			out = append(out, leafCheck(p+".oauth2.client_cert_file", mb.OAuth2.ClientCertFile, "", "", x509.ExtKeyUsageAny, false, opts))
		}
	}
	return out
}

func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, plainFileError(err)
	}
	return configtls.ParseCertificates(b)
}

func plainFileError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("file does not exist")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied (run the doctor as the service account or root)")
	}
	return err
}

// validity judges NotBefore/NotAfter at now.
func validity(c *x509.Certificate, opts DoctorOptions) (Level, string) {
	// Whole days left, rounded down as `ferry status` and the daily
	// warning give them: rounded to the nearest, a certificate good for
	// 14 more hours had "1 days left" here and 0 there.
	days := int(math.Floor(c.NotAfter.Sub(opts.Now).Hours() / 24))
	exp := c.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case opts.Now.After(c.NotAfter):
		ago := int(math.Round(opts.Now.Sub(c.NotAfter).Hours() / 24))
		return Fail, fmt.Sprintf("%q expired on %s (%d days ago); ask for a renewed certificate", c.Subject.CommonName, exp, ago)
	case opts.Now.Before(c.NotBefore):
		return Fail, fmt.Sprintf("%q is not valid until %s; check the system clock", c.Subject.CommonName, c.NotBefore.UTC().Format(time.DateOnly))
	case c.NotAfter.Sub(opts.Now) < opts.ExpiryWarning:
		return Warn, fmt.Sprintf("%q expires on %s: %d days left; renew it soon", c.Subject.CommonName, exp, days)
	}
	return OK, fmt.Sprintf("%q valid until %s (%d days left)", c.Subject.CommonName, exp, days)
}

func caCheck(field, path string, opts DoctorOptions) Check {
	c := Check{Area: "certificate", Name: field + " " + path}
	certs, err := readPEMCerts(path)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return c
	}
	// A CA bundle is usable while one of its certificates is (the
	// gateway leaves an expired one out of the pool); report the one in
	// use that breaks first, and warn about the expired ones.
	first, expired, err := configtls.FirstCAToExpire(path, opts.Now)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return c
	}
	c.Level, c.Detail = validity(first, opts)
	if len(certs) > 1 {
		c.Detail = fmt.Sprintf("%d certificates; earliest to expire: %s", len(certs), c.Detail)
	}
	for _, x := range expired {
		c.Level = max(c.Level, Warn)
		c.Detail += fmt.Sprintf("; %q expired on %s and is not used: remove it from the file", x.Subject.CommonName, x.NotAfter.UTC().Format(time.DateOnly))
	}
	if !first.IsCA && first.Subject.String() != first.Issuer.String() {
		c.Level = max(c.Level, Warn)
		c.Detail += "; note: this is not a CA certificate"
	}
	return c
}

func leafCheck(field, certFile, keyFile, caFile string, usage x509.ExtKeyUsage, mustChain bool, opts DoctorOptions) Check {
	c := Check{Area: "certificate", Name: field + " " + certFile}
	certs, err := readPEMCerts(certFile)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return c
	}
	leaf := certs[0]
	c.Level, c.Detail = validity(leaf, opts)
	// The intermediates in the file are sent with the leaf: one that
	// expires first breaks the handshake as the leaf would (and is the
	// date the status and the daily warning give for this file).
	for _, x := range certs[1:] {
		if l, d := validity(x, opts); l > c.Level {
			c.Level = l
			c.Detail += "; but in its chain " + d
		}
	}
	if keyFile != "" {
		if err := keyPair(certFile, keyFile); err != nil {
			c.Level = Fail
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
				c.Detail += "; key_file " + keyFile + ": " + plainFileError(err).Error()
			case strings.Contains(err.Error(), "does not match"):
				c.Detail += "; key_file " + keyFile + " does not belong to this certificate"
			default:
				// The gateway's own words (the key's certificate
				// later in the file, a passphrase, a DER or .pfx
				// file, a mode others can read), which name the
				// file: ferry refuses to load it, so this fails as
				// the start would.
				c.Detail += "; " + err.Error()
			}
		}
	}
	if caFile != "" {
		roots := x509.NewCertPool()
		cas, err := readPEMCerts(caFile)
		if err == nil {
			for _, ca := range cas {
				roots.AddCert(ca)
			}
			inter := x509.NewCertPool()
			for _, x := range certs[1:] {
				inter.AddCert(x)
			}
			// The leaf's own dates are judged above: whether it chains is
			// asked at a time it is valid, so that an expired one, or one
			// not valid yet (the clock), is not also put down to the CA.
			at := opts.Now
			if at.After(leaf.NotAfter) {
				at = leaf.NotAfter
			} else if at.Before(leaf.NotBefore) {
				at = leaf.NotBefore
			}
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}})
			switch {
			case verr == nil:
				c.Detail += "; chains to " + caFile
			case mustChain:
				c.Level = Fail
				c.Detail += "; does not chain to " + caFile + ": " + chainWords(verr)
			default:
				c.Level = max(c.Level, Warn)
				c.Detail += "; not issued by the CA in " + caFile + " (fine if the exchange trusts its issuer; " + chainWords(verr) + ")"
			}
		}
	}
	return c
}

// keyPair reads the certificate and key as the gateway does
// (configtls.CheckKeyPair: past a UTF-8 byte-order mark, refusing a key
// behind a passphrase, in another format than PEM, or that other
// accounts can read), so that the doctor finds what keeps it from
// starting in the same words.
func keyPair(certFile, keyFile string) error {
	return configtls.CheckKeyPair(certFile, keyFile)
}

func chainWords(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return "signed by an unknown authority"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "a certificate in the chain has expired"
	case errors.As(err, &ci) && ci.Reason == x509.IncompatibleUsage:
		return "the certificate is not allowed for this use (extended key usage)"
	}
	return err.Error()
}

// CheckExchange connects to the exchange with ferry's own TLS settings and
// makes one real request (GET [base]/metadata), explaining a failure in
// plain words. Any HTTP answer means the connection works; the status is
// reported for information. For an HL7 v2 exchange (mllps://) the TLS
// handshake is the whole check: a message sent would be delivered.
//
// Its first check says which proxy applies to the exchange (the proxy
// section, else the environment). Through a proxy the TLS handshake is
// made in an HTTP CONNECT tunnel first, on its own, so that a proxy's
// refusal (407, 403) is reported as the proxy's, not as the exchange
// being unreachable; the request and the token checks then go through
// the proxy as the gateway's do.
func CheckExchange(ctx context.Context, cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	if cfg.Exchange.URL == "" {
		return []Check{{Area: "exchange", Name: "exchange.url", Level: OK,
			Detail: "no exchange configured: bundles are written to " + cfg.Path("outbox")}}
	}
	c := Check{Area: "exchange", Name: cfg.Exchange.URL}
	u, err := url.Parse(cfg.Exchange.URL)
	if err != nil {
		c.Level, c.Detail = Fail, "not a URL: "+err.Error()
		return []Check{c}
	}
	if cfg.Exchange.FileDrop() {
		return checkSFTPExchange(ctx, cfg, c, opts)
	}
	tc, err := cfg.Exchange.TLS.LoadTLSConfig()
	if err != nil {
		c.Level, c.Detail = Fail, "cannot load ferry's TLS settings: "+err.Error()
		return []Check{c}
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if u.Scheme == mllptls.Scheme {
		return checkMLLPExchange(ctx, c, tc, hostport, opts)
	}
	fhirhttp.AcceptRenegotiation(tc) // as the gateway does
	d, err := cfg.Proxy.Decide(u)
	if err != nil {
		c.Level, c.Detail = Fail, "cannot tell which proxy applies: "+err.Error()
		return []Check{c}
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	cfg.Proxy.Apply(tr)
	client := &http.Client{Transport: tr}
	tunnel := ""
	if d.Proxy != nil {
		// The handshake through the tunnel on its own first, so that a
		// proxy's refusal and a TLS problem behind it are told apart.
		hc, ok := checkTunnelHandshake(ctx, c, tc, cfg.Proxy, d, u.Hostname(), hostport, opts)
		if !ok {
			return []Check{hc}
		}
		tunnel = hc.Detail
	}
	return checkFHIRExchange(ctx, cfg, c, client, hostport, tunnel, opts)
}

// CheckProxy says which proxy applies to the exchange, and where that
// comes from: "direct", "proxy http://proxy.clinic.local:3128 (from
// proxy.url)", or the environment variable, the password redacted. The
// environment is this command's, which a service may not share, and the
// check says so. Without an exchange there is nothing to say.
func CheckProxy(cfg *config.Config) []Check {
	if cfg.Exchange.URL == "" {
		return nil
	}
	c := Check{Area: "exchange", Name: "proxy", Level: OK}
	u, err := url.Parse(cfg.Exchange.URL)
	switch {
	case err != nil:
		return nil // CheckExchange reports it
	case u.Scheme == mllptls.Scheme:
		c.Detail = "direct (HL7 v2 over MLLP is not HTTP: it never goes through a proxy)"
		return []Check{c}
	case u.Scheme == sftpdrop.Scheme:
		c.Detail = "direct (SFTP is not HTTP: it never goes through a proxy)"
		return []Check{c}
	}
	d, err := cfg.Proxy.Decide(u)
	if err != nil {
		c.Level, c.Detail = Fail, "cannot tell: "+err.Error()
		return []Check{c}
	}
	c.Detail = d.String()
	return []Check{c}
}

// checkSFTPExchange logs in to an SFTP exchange with ferry's key, checks
// the server's host key against known_hosts, and writes, renames and removes a
// probe file in the directory: what delivery will do, without a bundle.
func checkSFTPExchange(ctx context.Context, cfg *config.Config, c Check, opts DoctorOptions) []Check {
	s, err := sftpdrop.New(cfg.Exchange.SFTPConfig(), nil)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return []Check{c}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	fsync, err := s.Check(ctx)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return []Check{c}
	}
	c.Level, c.Detail = OK, fmt.Sprintf("SSH login ok in %s, host key as known_hosts names it; a probe file written, renamed and removed", time.Since(start).Round(time.Millisecond))
	if !fsync {
		c.Level = Warn
		c.Detail += "; the server offers no fsync@openssh.com, so a file counts as delivered once it is whole under its name, as durable as the server makes it"
	}
	return []Check{c}
}

// mllpVerdictWait is how long checkMLLPExchange waits, after a TLS 1.3
// handshake, for the exchange to refuse ferry's certificate.
const mllpVerdictWait = 2 * time.Second

// checkMLLPExchange makes a TLS handshake with ferry's certificate with an
// HL7 v2 exchange, and under TLS 1.3 waits mllpVerdictWait for the
// exchange to refuse that certificate; sending a message would deliver it.
func checkMLLPExchange(ctx context.Context, c Check, tc *tls.Config, hostport string, opts DoctorOptions) []Check {
	start := time.Now()
	d := tls.Dialer{Config: tc}
	nc, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		c.Level, c.Detail = Fail, ExplainConnError(err, hostport, opts.Timeout)
		return []Check{c}
	}
	took := time.Since(start)
	defer nc.Close()
	conn := nc.(*tls.Conn)
	st := conn.ConnectionState()
	if st.Version >= tls.VersionTLS13 {
		// With TLS 1.3 ferry's side of the handshake is over before the
		// exchange has checked ferry's certificate: a refusal comes as an
		// alert with the first read, as it does to the gateway. Nothing
		// but that (or a close) arrives unasked, so a read that times
		// out is the exchange's consent.
		wait := time.Now().Add(mllpVerdictWait)
		if dl, ok := ctx.Deadline(); ok && dl.Before(wait) {
			wait = dl
		}
		_ = conn.SetReadDeadline(wait)
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			c.Level, c.Detail = Fail, ExplainConnError(err, hostport, opts.Timeout)
			return []Check{c}
		}
	}
	c.Level, c.Detail = OK, fmt.Sprintf("TLS handshake ok in %s (%s, %s%s); no message sent", took.Round(time.Millisecond),
		tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), peerWords(st))
	return []Check{c}
}

// checkTunnelHandshake opens an HTTP CONNECT tunnel through proxy to
// hostport, as the gateway's transport does (an https:// proxy's own TLS
// with the system's roots and proxy.ca_file, never the exchange's
// settings), and makes the TLS handshake with ferry's certificate inside
// it. ok is false when that failed; the check then says whether the
// proxy refused or failed its own handshake (naming the proxy) or the
// handshake failed behind it. On success its Detail describes the
// handshake.
func checkTunnelHandshake(ctx context.Context, c Check, tc *tls.Config, pc configproxy.Config, d configproxy.Decision, host, hostport string, opts DoctorOptions) (Check, bool) {
	proxy := d.Proxy
	start := time.Now()
	nc, err := pc.Dial(ctx, proxy, hostport)
	if err != nil {
		c.Level, c.Detail = Fail, explainProxyError(err, proxy, d.Source, hostport, opts.Timeout)
		return c, false
	}
	defer nc.Close()
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	conn := tls.Client(nc, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		c.Level, c.Detail = Fail, ExplainConnError(err, hostport, opts.Timeout)+" (through proxy "+configproxy.Redact(proxy)+")"
		if configtls.Diagnose(err) != nil {
			c.Detail += "; a proxy that inspects TLS shows its own certificate and cannot pass ferry's client certificate on: ask the clinic's IT to exempt " + host + " from inspection"
		}
		return c, false
	}
	st := conn.ConnectionState()
	c.Level, c.Detail = OK, fmt.Sprintf("TLS handshake through proxy %s ok in %s (%s, %s%s)", configproxy.Redact(proxy),
		time.Since(start).Round(time.Millisecond), tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), peerWords(st))
	return c, true
}

// explainProxyError puts a failure to open a tunnel in plain words that
// name the proxy, not the exchange, and the setting it came from (source:
// proxy.url, or the environment variable).
func explainProxyError(err error, proxy *url.URL, source, target string, timeout time.Duration) string {
	var re *configproxy.RefusedError
	if errors.As(err, &re) {
		return re.Error()
	}
	if d := configtls.Diagnose(err); d != nil && configproxy.IsProxyTLS(err) {
		return fmt.Sprintf("TLS %s with the proxy: %s", d.Problem, d.Hint)
	}
	p := configproxy.Redact(proxy)
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("the proxy's name %q cannot be resolved (check %s)", dns.Name, source)
	case neterr.ConnRefused(err):
		return fmt.Sprintf("nothing accepts connections at proxy %s (wrong host or port in %s?)", p, source)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer from proxy %s within %s (a firewall in the way, or the proxy is down)", p, timeout)
	}
	return fmt.Sprintf("cannot open a tunnel to %s through proxy %s: %v", target, p, err)
}

// checkFHIRExchange makes one real request (GET [base]/metadata) with
// client and, with SMART or UDAP, gets a token. tunnel, when set, is the
// handshake through the proxy checkTunnelHandshake made.
func checkFHIRExchange(ctx context.Context, cfg *config.Config, c Check, client *http.Client, hostport, tunnel string, opts DoctorOptions) []Check {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Exchange.URL, "/")+"/metadata", nil)
	if err != nil {
		c.Level, c.Detail = Fail, err.Error()
		return []Check{c}
	}
	req.Header.Set("Accept", "application/fhir+json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.Level, c.Detail = Fail, ExplainConnError(err, hostport, opts.Timeout)
		return []Check{c}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	state := resp.TLS
	detail := fmt.Sprintf("TLS handshake and request ok in %s", time.Since(start).Round(time.Millisecond))
	if state != nil {
		detail += fmt.Sprintf(" (%s, %s%s)", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite), peerWords(*state))
	}
	if tunnel != "" {
		detail = tunnel + fmt.Sprintf("; request ok in %s", time.Since(start).Round(time.Millisecond))
	}
	detail += fmt.Sprintf("; GET /metadata answered %s", resp.Status)
	c.Level, c.Detail = OK, detail
	smart, udap := cfg.Exchange.Auth.SMART, cfg.Exchange.Auth.UDAP
	noToken := !smart.Enabled() && !udap.Enabled()
	switch {
	case resp.StatusCode/100 == 2 && !capabilityStatement(body):
		// A TLS-inspecting proxy's or a portal's login page answers 200
		// too; the gateway would not count a bundle as delivered on it.
		c.Level = Warn
		c.Detail += fmt.Sprintf(", but with no FHIR CapabilityStatement (Content-Type %q): is exchange.url the FHIR base URL, or is a proxy's or login page answering in the exchange's place?", resp.Header.Get("Content-Type"))
	case resp.StatusCode == http.StatusUnauthorized && noToken && bearerChallenge(resp.Header):
		c.Level = Warn
		c.Detail += " (the exchange asks for an access token, WWW-Authenticate: Bearer: set exchange.auth.smart or exchange.auth.udap as it registered ferry)"
	case (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && noToken:
		c.Level = Warn
		c.Detail += " (the exchange refuses this client: is the certificate registered with it?)"
	}
	out := []Check{c}
	if smart.Enabled() {
		// One real token request: the registration, the key and the
		// token endpoint are what SMART adds that can be wrong.
		sc := Check{Area: "exchange", Name: "exchange.auth.smart"}
		scope, life, err := fhirhttp.CheckSMART(ctx, smart, cfg.Exchange.URL, fhirhttp.OtherHosts(client, cfg.Exchange.URL))
		var refused *fhirhttp.TokenRefusedError
		switch {
		case errors.As(err, &refused):
			sc.Level, sc.Detail = Fail, fmt.Sprintf("access token granted for scope %q (client %s), but %s", scope, smart.ClientID, err)
		case err != nil:
			sc.Level, sc.Detail = Fail, "no access token: "+err.Error()
		default:
			sc.Level, sc.Detail = OK, fmt.Sprintf("access token granted for scope %q, valid %s (client %s), and taken by the exchange", scope, life.Round(time.Second), smart.ClientID)
		}
		out = append(out, sc)
	}
	if udap.Enabled() {
		out = append(out, checkUDAP(ctx, cfg, client))
	}
	return out
}

// capabilityStatement tells whether body is a FHIR CapabilityStatement,
// in JSON or XML.
func capabilityStatement(body []byte) bool {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(body, &r) == nil {
		return r.ResourceType == "CapabilityStatement"
	}
	return bytes.Contains(body, []byte("<CapabilityStatement"))
}

// bearerChallenge tells whether a 401 asks for an OAuth bearer token
// (RFC 6750 §3).
func bearerChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if f := strings.Fields(v); len(f) > 0 && strings.EqualFold(strings.TrimSuffix(f[0], ","), "Bearer") {
			return true
		}
	}
	return false
}

// checkUDAP verifies the exchange's signed UDAP metadata and, once ferry
// is registered, makes one real token request: the trust anchors, the
// certificate and the hl7-b2b claims are what UDAP adds that can be
// wrong. It does not register (that can replace a registration); before
// the gateway's first delivery or `ferry udap-register` it says so.
func checkUDAP(ctx context.Context, cfg *config.Config, client *http.Client) Check {
	c := Check{Area: "exchange", Name: "exchange.auth.udap"}
	r, err := fhirhttp.CheckUDAP(ctx, cfg.Exchange.Auth.UDAP, cfg.Exchange.URL, fhirhttp.OtherHosts(client, cfg.Exchange.URL), cfg.UDAPRegistrationFile())
	switch {
	case err != nil && r.TokenEndpoint == "":
		c.Level, c.Detail = Fail, "no access token: "+err.Error()
	case errors.As(err, new(*fhirhttp.TokenRefusedError)):
		c.Level, c.Detail = Fail, fmt.Sprintf("signed metadata verified (signer %s); access token granted for scope %q (client %s), but %v", r.Signer, r.Scope, r.ClientID, err)
	case err != nil:
		c.Level, c.Detail = Fail, fmt.Sprintf("signed metadata verified (signer %s); no access token for client %s: %v", r.Signer, r.ClientID, err)
	case r.ClientID == "":
		c.Level, c.Detail = Warn, fmt.Sprintf("signed metadata verified (signer %s, token endpoint %s); not registered yet: the gateway registers at its first delivery, or run `ferry udap-register`", r.Signer, r.TokenEndpoint)
	default:
		c.Level, c.Detail = OK, fmt.Sprintf("signed metadata verified (signer %s); access token granted for scope %q, valid %s (client %s), and taken by the exchange", r.Signer, r.Scope, r.Life.Round(time.Second), r.ClientID)
	}
	// Metadata that revocation: soft-fail accepted unchecked is a
	// warning even when all else works: a check did not happen.
	if len(r.Warnings) > 0 && c.Level == OK {
		c.Level = Warn
	}
	for _, w := range r.Warnings {
		c.Detail += "; " + w
	}
	return c
}

// peerWords names the server certificate of a TLS connection and its end.
func peerWords(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	pc := st.PeerCertificates[0]
	return fmt.Sprintf(", server certificate %q valid until %s", pc.Subject.CommonName, pc.NotAfter.UTC().Format(time.DateOnly))
}

// ExplainConnError turns a connection failure into plain words: a
// proxy's refusal naming the proxy, TLS problems through
// configtls.Diagnose, network ones by their cause.
func ExplainConnError(err error, hostport string, timeout time.Duration) string {
	var re *configproxy.RefusedError
	if errors.As(err, &re) {
		return re.Error()
	}
	if d := configtls.Diagnose(err); d != nil && configproxy.IsProxyTLS(err) {
		return fmt.Sprintf("TLS %s with the proxy: %s", d.Problem, d.Hint)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		// net/http could not reach the proxy itself.
		return "cannot reach the proxy (proxy.url or HTTPS_PROXY): " + op.Err.Error()
	}
	if d := configtls.Diagnose(err); d != nil {
		return fmt.Sprintf("TLS %s: %s", d.Problem, d.Hint)
	}
	var dns *net.DNSError
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("%s did not answer with TLS but with plain HTTP (is the port wrong, or is the exchange behind a TLS proxy on another port?)", hostport)
	case errors.As(err, &dns):
		return fmt.Sprintf("the name %q cannot be resolved (typo in the url, or no DNS on this machine?)", dns.Name)
	case neterr.ConnRefused(err):
		return fmt.Sprintf("nothing accepts connections on %s (exchange down, or wrong port?)", hostport)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer from %s within %s (a firewall dropping the traffic, or the exchange is down)", hostport, timeout)
	case neterr.Unreachable(err):
		return fmt.Sprintf("no route to %s (network or VPN down?)", hostport)
	case neterr.ConnReset(err), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s closed the connection during the handshake (a proxy or firewall in the way, or the exchange refused ferry's client certificate): %v", hostport, err)
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// CheckFolders checks the data folder and the watched folders: that they
// exist, are folders, can be written, and (data folder) are not open to
// other users.
func CheckFolders(cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	out := []Check{dataDirCheck(cfg.DataDir, opts)}
	for i, f := range cfg.Sources.Folders {
		c := Check{Area: "folder", Name: fmt.Sprintf("sources.folders[%d] %s", i, f.Path)}
		fi, err := os.Stat(f.Path)
		switch {
		case err != nil:
			c.Level, c.Detail = Fail, plainFileError(err).Error()
		case !fi.IsDir():
			c.Level, c.Detail = Fail, "is a file, not a folder"
		default:
			if werr := probeWrite(f.Path); werr != nil {
				c.Level, c.Detail = Fail, "cannot create files in it (ferry moves what it took into its work folder): "+plainFileError(werr).Error()
			} else if lvl, msg := writableBy(f.Path, opts.ServiceFiles, false); lvl != OK {
				c.Level, c.Detail = lvl, msg
			} else {
				c.Level, c.Detail = OK, "exists and is writable"
			}
		}
		out = append(out, c)
		out = append(out, workFolderChecks(i, f.Config.Config, opts.ServiceFiles)...)
	}
	return out
}

// workFolderChecks checks a folder's work folder when it lies outside the
// watched folder (work_dir, or kind hylafax's default beside the recvq),
// and, for a HylaFAX inbox, what an earlier ferry left inside the recvq,
// which HylaFAX's faxcron purges. With acct (doctor as root), the work
// folder, wherever it is, must also be the service account's to write: a
// `.ferry` left by a trial `ferry run` as root is root's, mode 0700.
func workFolderChecks(i int, f folder.Config, acct *ServiceAccount) []Check {
	p, err := f.ResolvePaths()
	if err != nil {
		return nil
	}
	path, _ := filepath.Abs(f.Path)
	var out []Check
	if rel, err := filepath.Rel(path, p.Work); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		c := Check{Area: "folder", Name: fmt.Sprintf("sources.folders[%d].work_dir %s", i, p.Work)}
		why := ""
		if f.Kind == "hylafax" {
			why = " (beside the recvq, not in it: HylaFAX's faxcron deletes every file under recvq 7 days after it arrived)"
		}
		hint := "create it for the service account: sudo install -d -o ferry -g ferry -m 0700 " + p.Work
		fi, err := os.Stat(p.Work)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			parent := filepath.Dir(p.Work)
			if werr := probeWrite(parent); werr != nil {
				c.Level, c.Detail = Fail, "does not exist, and "+parent+" does not let this account create it: "+plainFileError(werr).Error()+"; "+hint
			} else if lvl, msg := writableBy(parent, acct, false); lvl != OK {
				c.Level, c.Detail = lvl, "does not exist, and the service cannot create it: "+msg+"; or "+hint
			} else {
				c.Level, c.Detail = Warn, "does not exist yet"+why+"; ferry creates it at start if the service account may write "+parent+", otherwise "+hint
			}
		case err != nil:
			c.Level, c.Detail = Fail, plainFileError(err).Error()
		case !fi.IsDir():
			c.Level, c.Detail = Fail, "is a file, not a folder"
		default:
			if werr := probeWrite(p.Work); werr != nil {
				c.Level, c.Detail = Fail, "cannot create files in it (claimed, failed and done files go there): "+plainFileError(werr).Error()
			} else if lvl, msg := writableBy(p.Work, acct, true); lvl != OK {
				c.Level, c.Detail = lvl, msg
			} else {
				c.Level, c.Detail = OK, "exists and is writable"+why
			}
		}
		out = append(out, c)
	} else if fi, err := os.Stat(p.Work); err == nil && fi.IsDir() {
		if lvl, msg := writableBy(p.Work, acct, true); lvl != OK {
			out = append(out, Check{Area: "folder", Name: fmt.Sprintf("sources.folders[%d] work folder %s", i, p.Work), Level: lvl, Detail: msg})
		}
	}
	if f.Kind == "hylafax" {
		legacy := filepath.Join(path, ".ferry")
		if fi, err := os.Lstat(legacy); err == nil && fi.IsDir() && filepath.Clean(legacy) != filepath.Clean(p.Work) {
			out = append(out, Check{Area: "folder", Name: fmt.Sprintf("sources.folders[%d] %s", i, legacy), Level: Warn,
				Detail: "an earlier ferry's work folder inside the recvq, where HylaFAX's faxcron deletes files after 7 days; ferry moves its processing/ and failed/ files to " + p.Work + " at start: copy what you want to keep from its done/, then remove it"})
		}
	}
	return out
}

func dataDirCheck(dir string, opts DoctorOptions) Check {
	c := Check{Area: "folder", Name: "data_dir " + dir}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(filepath.Clean(dir))
		if werr := probeWrite(parent); werr != nil {
			c.Level, c.Detail = Fail, "does not exist, and "+parent+" does not let this account create it: "+plainFileError(werr).Error()
			return c
		}
		c.Level, c.Detail = Warn, "does not exist yet; ferry creates it (mode 0700) on first start"
		return c
	}
	if err != nil {
		c.Level, c.Detail = Fail, plainFileError(err).Error()
		return c
	}
	if !fi.IsDir() {
		c.Level, c.Detail = Fail, "is a file, not a folder"
		return c
	}
	c.Level, c.Detail = OK, "exists"
	if werr := probeWrite(dir); werr != nil {
		c.Level, c.Detail = Fail, "not writable by this account: "+plainFileError(werr).Error()
		return c
	}
	c.Detail += " and is writable"
	if lvl, msg := permissionWords(dir, fi, opts.ServiceAccount); msg != "" {
		c.Level = max(c.Level, lvl)
		c.Detail += "; " + msg
	}
	return c
}

// CheckLog says where the gateway's log goes and, for log.file, whether
// this account can write it there (ferry creates the folder, mode 0750, and
// the file, mode 0600, at start; a folder it cannot write is an error then).
func CheckLog(cfg *config.Config, goos string) Check {
	c := Check{Area: "log", Name: "log.file", Level: OK}
	file := cfg.Log.File
	if file == "" {
		c.Detail = "standard error: when systemd runs the service, the journal (journalctl -u ferry)"
		if goos == "windows" {
			// A Windows service's standard error goes nowhere: run.go
			// logs there instead.
			c.Detail = "standard error in a terminal; as a Windows service " + cfg.DefaultServiceLogFile() + ", errors also in the Application event log"
		}
		return c
	}
	rotation := fmt.Sprintf("rotated at %d MiB, %d kept", cfg.Log.MaxSizeMB, cfg.Log.MaxFiles)
	dir := filepath.Dir(file)
	fi, err := os.Stat(file)
	switch {
	case err == nil && fi.IsDir():
		c.Level, c.Detail = Fail, "is a folder; name a file in it"
		return c
	case err == nil:
		f, werr := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		if werr != nil {
			c.Level, c.Detail = Fail, "exists but this account cannot write it: "+plainFileError(werr).Error()
			return c
		}
		f.Close()
		if werr := probeWrite(dir); werr != nil {
			c.Level, c.Detail = Warn, "writable, but its folder is not, so it cannot be rotated: "+plainFileError(werr).Error()
			return c
		}
		c.Detail = "logs go here, " + rotation
		return c
	}
	parent := existingDir(dir)
	if werr := probeWrite(parent); werr != nil {
		c.Level, c.Detail = Fail, "does not exist, and this account cannot create it under "+parent+": "+plainFileError(werr).Error()
		return c
	}
	c.Detail = "logs go here (created at start), " + rotation
	return c
}

// probeWrite creates and removes a file in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".ferry-doctor-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// CheckDisk reports free space under the data folder (or its nearest
// existing parent), failing below MinFreeBytes and warning when the queue
// could outgrow the disk.
func CheckDisk(cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	dir := existingDir(cfg.DataDir)
	c := Check{Area: "disk", Name: "free space under " + dir}
	free, total, err := diskFree(dir)
	if err != nil {
		c.Level, c.Detail = Warn, "cannot tell: "+err.Error()
		return []Check{c}
	}
	c.Detail = fmt.Sprintf("%s free of %s", humanBytes(free), humanBytes(total))
	switch {
	case free < opts.MinFreeBytes:
		c.Level = Fail
		c.Detail += fmt.Sprintf("; below %s: the queue may refuse new messages soon", humanBytes(opts.MinFreeBytes))
	case cfg.Queue.MaxBytes > 0 && free < uint64(cfg.Queue.MaxBytes):
		c.Level = Warn
		c.Detail += fmt.Sprintf("; less than queue.max_bytes (%s): a long exchange outage could fill the disk", humanBytes(uint64(cfg.Queue.MaxBytes)))
	}
	return []Check{c}
}

// HumanBytes renders n as B, KiB, MiB ...; a negative n as 0 B.
func HumanBytes(n int64) string { return humanBytes(uint64(max(n, 0))) }

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// CheckAccess says who may send HL7 to each MLLP listener. A listener
// reachable from the network that neither restricts senders (allow) nor
// requires client certificates draws a warning, the one `ferry config
// check` prints: anyone on the network could send messages that go to the
// exchange under the clinic's identity. It is not a failure, so that an
// existing installation is told rather than stopped.
func CheckAccess(cfg *config.Config) []Check {
	warned := map[string]string{}
	for _, w := range cfg.Warnings() {
		// The last warning of a listener is the one about its senders
		// (a port 0 is the port check's).
		warned[w.Path] = w.Msg
	}
	var out []Check
	for i, m := range cfg.Sources.MLLP {
		field := fmt.Sprintf("sources.mllp[%d].listen", i)
		c := Check{Area: "access", Name: field + " " + m.Listen, Level: OK}
		var how []string
		if len(m.Allow) > 0 {
			how = append(how, "senders limited to "+strings.Join(m.Allow, ", "))
		}
		if m.TLS != nil && m.TLS.ClientCAFile != "" {
			how = append(how, "client certificates required (mutual TLS)")
		}
		switch {
		case m.Open():
			c.Level, c.Detail = Warn, warned[field]
		case len(how) > 0:
			c.Detail = strings.Join(how, "; ")
		default:
			c.Detail = "loopback only: senders on this machine"
		}
		out = append(out, c)
	}
	return out
}

// servicePorts fails the port checks that passed only because doctor runs
// as root: a port below net.ipv4.ip_unprivileged_port_start, which the
// service, running as acct with no capabilities (the unit's
// CapabilityBoundingSet=), cannot bind. acct nil: not judged.
func servicePorts(checks []Check, cfg *config.Config, acct *ServiceAccount) []Check {
	start := unprivilegedPortStart()
	if acct == nil || acct.UID == 0 || start == 0 {
		return checks
	}
	for i, c := range checks {
		if c.Area != "port" || c.Level != OK || c.Detail != "free" {
			continue // a port the running ferry holds, it could bind
		}
		_, addr, _ := strings.Cut(c.Name, " ")
		_, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err == nil && perr == nil && n > 0 && n < start {
			checks[i].Level = Fail
			checks[i].Detail = fmt.Sprintf("the service account %s may not listen on it (ports below %d need privileges the service does not have); use 2575", acct.Name, start)
		}
	}
	return checks
}

// CheckPorts tries to bind every address ferry listens on. A busy port is
// fine when the running ferry holds it (its status page answers, and
// lists a listener on that port), and a problem otherwise.
func CheckPorts(ctx context.Context, cfg *config.Config) []Check {
	var out []Check
	ferryRunning, otherFerry := "", ""
	// The ports the running ferry listens on: its status page's, which
	// answered, and its MLLP listeners'. Another busy port is not its
	// own, though the configuration names it (a listener added or moved
	// since ferry started, to a port another program holds).
	ferryPorts := map[string]bool{}
	if cfg.Status.Listen != "" {
		if st, err := FetchStatus(ctx, cfg.Status.Listen); err == nil {
			ferryRunning = st.Version
			if ferryRunning == "" {
				ferryRunning = "unknown version"
			}
			if _, port, err := net.SplitHostPort(cfg.Status.Listen); err == nil {
				ferryPorts[port] = true
			}
			for _, src := range st.Sources {
				if _, port, err := net.SplitHostPort(src.Address); err == nil {
					ferryPorts[port] = true
				}
			}
			if !SameDataDir(st, cfg) {
				otherFerry = fmt.Sprintf("in use by another ferry (%s, data_dir %s), not the gateway of this configuration (data_dir %s), which cannot start while it runs: stop that one (a `ferry run` left in a terminal?) or give one of them other ports",
					ferryRunning, st.DataDir, cfg.DataDir)
			}
		}
	}
	check := func(field, addr string) {
		c := Check{Area: "port", Name: field + " " + addr}
		ln, err := net.Listen("tcp", addr)
		_, port, _ := net.SplitHostPort(addr)
		switch {
		case err == nil:
			ln.Close()
			c.Level, c.Detail = OK, "free"
		case neterr.AddrInUse(err) && otherFerry != "":
			c.Level, c.Detail = Fail, otherFerry
		case neterr.AddrInUse(err) && ferryRunning != "" && ferryPorts[port]:
			c.Level, c.Detail = OK, "in use by the running ferry ("+ferryRunning+")"
		case neterr.AddrInUse(err) && ferryRunning != "":
			c.Level, c.Detail = Fail, "already in use by another program, not by the running ferry, which does not listen on it (a listener added or moved since it started): ferry cannot start with it; stop that program or choose another port"
		case neterr.AddrInUse(err):
			c.Level, c.Detail = Fail, "already in use by another program; stop it or choose another port"
		case neterr.AccessDenied(err):
			c.Level, c.Detail = Fail, "this account may not listen on it (ports below 1024 need privileges; use 2575)"
		case neterr.AddrNotAvail(err):
			c.Level, c.Detail = Fail, "this machine has no such address"
		default:
			c.Level, c.Detail = Fail, err.Error()
		}
		out = append(out, c)
	}
	for i, m := range cfg.Sources.MLLP {
		if strings.HasSuffix(m.Listen, ":0") {
			out = append(out, Check{Area: "port", Name: fmt.Sprintf("sources.mllp[%d].listen %s", i, m.Listen), Level: Warn,
				Detail: "port 0: the system picks another port at every start, which no sender can be pointed at; give the port the senders send to (2575 is MLLP's usual one)"})
			continue
		}
		check(fmt.Sprintf("sources.mllp[%d].listen", i), m.Listen)
	}
	if cfg.Status.Listen != "" && !strings.HasSuffix(cfg.Status.Listen, ":0") {
		check("status.listen", cfg.Status.Listen)
	}
	return out
}
