// Package configproxy turns ferry's proxy setting into the one function
// every outbound HTTP client of ferry takes its proxy from, so that the
// exchange's transport (and its token, UDAP and revocation requests), the
// FHIR audit feed, `ferry udap-register` and `ferry doctor` all go out the
// same way.
//
//	proxy:
//	  url: http://user:password@proxy.clinic.local:3128   # or https://; or direct
//	  no_proxy: [hie-test.local, .internal.example, 10.0.0.0/8]
//
// With no url the environment decides (HTTPS_PROXY, HTTP_PROXY, NO_PROXY),
// as net/http's ProxyFromEnvironment does. That is rarely what a service
// wants: a Windows service runs under its own account and does not see
// the variables an administrator sets for theirs, so a clinic behind a
// proxy configures it here. url: direct ignores those variables.
//
// The matching of no_proxy is golang.org/x/net/http/httpproxy's, NO_PROXY's
// own rules: a name matches itself and its subdomains, a leading dot only
// subdomains, a CIDR only hosts written as IP addresses, and "localhost"
// and loopback addresses never go through a proxy.
//
// A password in the URL redacts itself (URL's String, Format and
// marshalling, and Redact) wherever a configuration or an error is
// printed, as configopaque.String does for whole secrets.
package configproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/ferry-health/ferry/config/configopaque"
)

// Direct is the proxy.url that ignores the environment's proxy variables.
const Direct = "direct"

// Config is the top-level proxy section.
type Config struct {
	// URL is the proxy (http:// or https://, user:password@ allowed),
	// Direct, or empty for the environment's HTTPS_PROXY and NO_PROXY.
	URL URL `yaml:"url" json:"url"`
	// NoProxy lists hosts, domains (.example.org) and CIDR networks that
	// are reached directly, as NO_PROXY does; only with a proxy URL.
	NoProxy []string `yaml:"no_proxy" json:"no_proxy"`
	// CAFile is a PEM file of CA certificates that may sign an https://
	// proxy's own certificate, in addition to the system's roots (a
	// clinic's internal CA on a machine whose store lacks it). The
	// exchange's TLS settings never apply to the proxy. It is read at
	// each connection to the proxy.
	CAFile string `yaml:"ca_file" json:"ca_file"`
}

// URL is a proxy URL whose password never prints: every fmt verb and
// every marshaller shows it with the password replaced by
// configopaque.Redacted. Convert it with string(u) where the real value
// is needed.
type URL string

// String implements fmt.Stringer.
func (u URL) String() string { return RedactString(string(u)) }

// GoString implements fmt.GoStringer so %#v redacts too.
func (u URL) GoString() string { return strconv.Quote(u.String()) }

// Format implements fmt.Formatter: %x or %d must not dump the password.
func (u URL) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", u.String())
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, u.GoString())
	default:
		fmt.Fprint(f, u.String())
	}
}

// MarshalText implements encoding.TextMarshaler (slog, encoding/xml).
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalJSON implements json.Marshaler.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalYAML implements the yaml.Marshaler of go.yaml.in/yaml/v3.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// UnmarshalText implements encoding.TextUnmarshaler: decoding keeps the
// real value (see configopaque.String.UnmarshalText for why it exists).
func (u *URL) UnmarshalText(b []byte) error {
	*u = URL(b)
	return nil
}

// Redact prints u with its password replaced by configopaque.Redacted;
// the user name stays, as it helps to tell which account a proxy refused.
// The http:// stand-in Apply gives net/http for an https proxy prints as
// that proxy.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	u = unalias(u)
	if _, has := u.User.Password(); !has {
		s := u.String()
		if u.User == nil && strings.Contains(s, "@") {
			// A '#', '/' or '?' of the password not percent-encoded
			// ended the host there ("http://ferry:12#pw@proxy:3128"
			// is host ferry:12), the rest, password and all, left
			// in the fragment, path or query.
			return redactRaw(s)
		}
		return s
	}
	c := *u
	c.User = nil
	s := c.String()
	prefix := c.Scheme + "://"
	if !strings.HasPrefix(s, prefix) {
		return configopaque.Redacted
	}
	return prefix + url.User(u.User.Username()).String() + ":" + configopaque.Redacted + "@" + strings.TrimPrefix(s, prefix)
}

// RedactString is Redact for a URL not parsed yet. A value that does not
// parse keeps nothing between the scheme and the last '@', which is where
// a password would be.
func RedactString(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return Redact(u)
	}
	return redactRaw(raw)
}

// redactRaw replaces what stands between the scheme and the last '@' of
// raw, where a password would be.
func redactRaw(raw string) string {
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		start := 0
		if i := strings.Index(raw, "://"); i >= 0 && i < at {
			start = i + 3
		}
		return raw[:start] + configopaque.Redacted + raw[at:]
	}
	return raw
}

// Validate checks the section offline; each error starts with its field
// (url, no_proxy[1]) and never repeats a password.
func (c Config) Validate() error {
	var errs []error
	raw := strings.TrimSpace(string(c.URL))
	switch {
	case raw == "":
		if len(c.NoProxy) > 0 {
			errs = append(errs, errors.New("no_proxy: set without url; the environment's NO_PROXY goes with the environment's proxy, so give url the proxy too"))
		}
	case raw == Direct:
		if len(c.NoProxy) > 0 {
			errs = append(errs, errors.New("no_proxy: has no effect with url: direct (every host is reached directly); remove it"))
		}
		if c.CAFile != "" {
			errs = append(errs, errors.New("ca_file: has no effect with url: direct; remove it"))
		}
	default:
		if err := checkURL(raw); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		} else if u, _ := url.Parse(raw); c.CAFile != "" && !strings.EqualFold(u.Scheme, "https") {
			errs = append(errs, errors.New("ca_file: only an https:// proxy's certificate is checked, and url is http://; remove ca_file or correct the scheme"))
		}
		for i, h := range c.NoProxy {
			if err := checkNoProxy(h); err != nil {
				errs = append(errs, fmt.Errorf("no_proxy[%d]: %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkURL checks a proxy URL. Its messages quote the scheme or the host
// at most: url.Parse's own errors can carry a piece of the password.
func checkURL(raw string) error {
	if !strings.Contains(raw, "://") {
		return errors.New("want http://host:port or https://host:port, with the scheme (or direct)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL; write it as http://host:port or http://user:password@host:port, with a password's special characters percent-encoded (@ as %40, : as %3A)")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("scheme %q not supported; use http:// or https://", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		if u.User == nil && strings.Contains(raw, "@") {
			// The password's '#', '/' or '?' ended the host.
			return errors.New("not a valid URL; write it as http://host:port or http://user:password@host:port, with a password's special characters percent-encoded (@ as %40, : as %3A, # as %23, / as %2F, ? as %3F)")
		}
		return errors.New("a proxy URL is scheme://host:port, with no path or query")
	}
	return nil
}

// checkNoProxy checks one no_proxy entry: "*", a host or domain with an
// optional port, an IP address or a CIDR network.
func checkNoProxy(h string) error {
	switch {
	case h == "*":
		return nil
	case strings.TrimSpace(h) == "":
		return errors.New("empty")
	case strings.Contains(h, "://"):
		return fmt.Errorf("%q is a URL; want a host, a domain (.example.org) or a CIDR network (10.0.0.0/8)", h)
	case strings.ContainsAny(h, ", \t@"):
		return fmt.Errorf("%q: want one host, domain (.example.org) or CIDR network per entry", h)
	case strings.Contains(h, "/"):
		if _, err := netip.ParsePrefix(h); err != nil {
			return fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8", h)
		}
	}
	return nil
}

// env returns the environment's proxy settings, read now (not cached for
// the process as net/http's ProxyFromEnvironment is), so that the doctor
// describes exactly what a client built at the same time uses.
func env() *httpproxy.Config { return httpproxy.FromEnvironment() }

// settings returns the httpproxy configuration c stands for, and nil for
// Direct.
func (c Config) settings() *httpproxy.Config {
	raw := strings.TrimSpace(string(c.URL))
	switch raw {
	case "":
		return env()
	case Direct:
		return nil
	}
	return &httpproxy.Config{HTTPProxy: raw, HTTPSProxy: raw, NoProxy: strings.Join(c.NoProxy, ",")}
}

// Func returns the function an http.Transport's Proxy field takes: the
// proxy for a request's URL, or nil to connect directly. Use Apply, which
// also sets how a proxy's refusal is reported.
func (c Config) Func() func(*http.Request) (*url.URL, error) {
	s := c.settings()
	if s == nil {
		return func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	f := s.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}

// Apply sets tr's Proxy to Func and makes a proxy's refusal of a CONNECT
// (407, 403, 502 ...) a *RefusedError naming the proxy rather than the
// bare status text net/http reports, and a proxy that closes the
// connection before it answered an error naming it (proxyConn), not a
// bare EOF. Call it after setting tr's
// DialContext, which it wraps: an https:// proxy's own TLS connection is
// made there, with the system's roots and ca_file, the proxy's host name
// and no client certificate, not with tr.TLSClientConfig, which is for
// the server behind the proxy (see alias). Copy Proxy, DialContext and
// OnProxyConnectResponse together to another Transport.
func (c Config) Apply(tr *http.Transport) {
	f := c.Func()
	proxies := &proxyAddrs{}
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		u, err := f(r)
		if err == nil && u != nil && strings.EqualFold(u.Scheme, "https") {
			u = alias(u)
		}
		if err == nil && u != nil {
			proxies.add(u)
		}
		return u, err
	}
	tr.DialContext = proxyDialer(wrapDial(tr), strings.TrimSpace(c.CAFile), proxies)
	tr.OnProxyConnectResponse = checkConnectResponse
}

// Dial opens a connection to target (host:port) through an HTTP CONNECT
// tunnel of proxy as a Transport given Apply does: an https:// proxy's
// TLS with the system's roots and ca_file, the CONNECT inside it. It is
// for checks that need the raw connection (the doctor's TLS handshake),
// so that they and delivery judge the proxy alike.
func (c Config) Dial(ctx context.Context, proxy *url.URL, target string) (net.Conn, error) {
	return dial(ctx, proxy, target, strings.TrimSpace(c.CAFile))
}

// checkConnectResponse is an http.Transport.OnProxyConnectResponse.
func checkConnectResponse(_ context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return &RefusedError{Proxy: Redact(unalias(proxy)), Target: req.Host, Code: resp.StatusCode, Status: resp.Status,
		SentCredentials: req.Header.Get("Proxy-Authorization") != "" || proxy.User != nil,
		Schemes:         authSchemes(resp.Header.Values("Proxy-Authenticate"))}
}

// authSchemes returns the authentication schemes of Proxy-Authenticate
// challenges (RFC 9110 §11.7.1: a scheme, then its parameters), each
// once, as plain tokens.
func authSchemes(challenges []string) []string {
	var out []string
	for _, ch := range challenges {
		// One header may hold several challenges, separated by commas
		// that also separate parameters: a scheme is a token not
		// followed by '='.
		for _, part := range strings.Split(ch, ",") {
			word, _, _ := strings.Cut(strings.TrimSpace(part), " ")
			if word == "" || strings.Contains(word, "=") || !isToken(word) || slices.ContainsFunc(out, func(s string) bool { return strings.EqualFold(s, word) }) {
				continue
			}
			out = append(out, word)
		}
	}
	return out
}

// isToken reports whether s is a plain scheme name (it is quoted in
// messages, so nothing else the proxy wrote).
func isToken(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// RefusedError is a proxy's answer other than 200 to CONNECT: it did not
// open the tunnel to Target. Proxy is the proxy's URL, password redacted.
type RefusedError struct {
	Proxy           string
	Target          string // host:port the tunnel was for
	Code            int
	Status          string // "407 Proxy Authentication Required"
	SentCredentials bool   // a user and password were sent
	// Schemes are the authentication schemes a 407 offered
	// (Proxy-Authenticate): Basic, NTLM, Negotiate ...
	Schemes []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("proxy %s refused the tunnel to %s: %s; %s", e.Proxy, e.Target, e.Status, e.Hint())
}

// ConfigProblem marks the refusal as one an operator must fix: the
// dispatcher shows it on the status page (transport.operatorProblem).
// A 502, 503 or 504 is the proxy failing to reach the exchange, which an
// exchange's outage does as often as a wrong url: "" leaves it the
// delivery's last error, retried, not a problem for the operator.
func (e *RefusedError) ConfigProblem() string {
	switch e.Code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return ""
	}
	return e.Error()
}

// Hint says in plain words what to do about the refusal.
func (e *RefusedError) Hint() string {
	switch {
	case e.Code == http.StatusProxyAuthRequired && len(e.Schemes) > 0 && !slices.ContainsFunc(e.Schemes, func(s string) bool { return strings.EqualFold(s, "Basic") }):
		// A Windows domain's proxy signing its users in; the user and
		// password of proxy.url go out as Basic, which it does not take.
		return "the proxy asks for " + strings.Join(e.Schemes, " or ") + " sign-in, not the user and password ferry can send (Basic); ask the clinic's IT to let ferry's machine or the exchange's host through without a login, or to accept Basic for ferry's account"
	case e.Code == http.StatusProxyAuthRequired && e.SentCredentials:
		return "the proxy did not accept the user and password in proxy.url (or HTTPS_PROXY); check them with the clinic's IT"
	case e.Code == http.StatusProxyAuthRequired:
		return "the proxy requires a login: put user:password@ in proxy.url (http://user:password@host:port)"
	case e.Code == http.StatusForbidden:
		return "the proxy does not allow connections to " + e.Target + "; ask the clinic's IT to allow it (or to let the port through)"
	case e.Code == http.StatusMethodNotAllowed || e.Code == http.StatusNotImplemented:
		return "the proxy does not open CONNECT tunnels, which HTTPS with a client certificate needs"
	case e.Code == http.StatusBadGateway || e.Code == http.StatusGatewayTimeout || e.Code == http.StatusServiceUnavailable:
		return "the proxy could not reach " + e.Target + " (wrong host or port in the url, or the exchange is down)"
	}
	return "the proxy would not connect ferry to " + e.Target
}

// Decision is which way a request to one URL goes, for people.
type Decision struct {
	// Proxy is nil for a direct connection.
	Proxy *url.URL
	// Source names where the setting came from: "proxy.url", or the
	// environment variable (HTTPS_PROXY, https_proxy, HTTP_PROXY ...).
	Source string
	// Why explains a direct connection when a proxy is configured, or
	// notes that the environment of this process decided.
	Why string
}

// String is "direct", "direct (...)" or "proxy http://host:3128 (from
// proxy.url)", the password redacted.
func (d Decision) String() string {
	if d.Proxy == nil {
		if d.Why == "" {
			return "direct"
		}
		return "direct (" + d.Why + ")"
	}
	s := "proxy " + Redact(d.Proxy) + " (from " + d.Source
	if d.Why != "" {
		s += "; " + d.Why
	}
	return s + ")"
}

// Decide says how a request to target goes under c, and why.
func (c Config) Decide(target *url.URL) (Decision, error) {
	raw := strings.TrimSpace(string(c.URL))
	if raw == Direct {
		why := "proxy.url: direct"
		if name, _ := envProxy(target.Scheme); name != "" {
			why += "; " + name + " in the environment is ignored"
		}
		return Decision{Why: why}, nil
	}
	p, err := c.Func()(&http.Request{URL: target})
	if err != nil {
		return Decision{}, err
	}
	source, noProxy := "proxy.url", "proxy.no_proxy"
	if raw == "" {
		var value string
		source, value = envProxy(target.Scheme)
		noProxy = envName("NO_PROXY", "no_proxy")
		if source == "" {
			return Decision{Why: "no proxy.url, and no " + schemeVar(target.Scheme) + " in the environment"}, nil
		}
		if p == nil && !parses(value) {
			return Decision{Why: source + " in the environment is not a URL and is ignored"}, nil
		}
	}
	if p == nil {
		host := target.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return Decision{Why: host + " is this machine: loopback never goes through a proxy"}, nil
		}
		return Decision{Why: host + " matches " + noProxy}, nil
	}
	d := Decision{Proxy: p, Source: source}
	if raw == "" {
		// The doctor runs in an administrator's shell; the service has
		// its own environment.
		d.Why = "this command's environment; the service may not have it: set proxy.url to be sure"
	}
	return d, nil
}

// envProxy returns the name and value of the environment variable that
// sets the proxy for scheme, as httpproxy.FromEnvironment reads them.
func envProxy(scheme string) (name, value string) {
	names := []string{"HTTPS_PROXY", "https_proxy"}
	if scheme == "http" {
		names = []string{"HTTP_PROXY", "http_proxy"}
	}
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// parses reports whether httpproxy takes v as a proxy: as it is, or with
// http:// in front.
func parses(v string) bool {
	if _, err := url.Parse(v); err == nil {
		return true
	}
	_, err := url.Parse("http://" + v)
	return err == nil
}

func envName(names ...string) string {
	for _, n := range names {
		if os.Getenv(n) != "" {
			return n
		}
	}
	return names[0]
}

func schemeVar(scheme string) string {
	if scheme == "http" {
		return "HTTP_PROXY"
	}
	return "HTTPS_PROXY"
}
