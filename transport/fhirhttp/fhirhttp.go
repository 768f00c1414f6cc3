// Package fhirhttp is the Sink that delivers queued FHIR transaction Bundles
// to an exchange over HTTPS with mutual TLS: one POST of the Bundle to the
// FHIR base URL per item (FHIR R4 http.html#transaction; IHE MHD ITI-65 uses
// the same interaction). An item marked queue.AttrCreate holds one
// resource instead, POSTed to [base]/<type> with its If-None-Exist (IHE
// MHD ITI-105 Simplified Publish); its 2xx answer counts as delivered only
// with a Location naming a resource of that type, or that resource as the
// body (classifyCreated).
//
// Every outcome is classified so that nothing is dropped (ARCHITECTURE.md
// invariant 2):
//
//	2xx: a transaction-response (a batch-response    → delivered
//	  to a batch) with one 2xx entry per entry sent
//	  (with a failed entry: as that entry's status below, naming every
//	  failed entry and, in a transaction-response, the entries done)
//	any other 2xx: empty, HTML, OperationOutcome,    → retry, as an *EndpointError
//	  cut JSON, wrong type or entry count, 202,
//	  one longer than the bundle can be answered
//	  with (not read to its end)
//	network error, 408, 425, 429, 5xx except 501     → retry (Retry-After honoured; after 502,
//	                                                   504, 520 and 524 not before the
//	                                                   unknown-outcome delay)
//	TLS certificate/handshake failure                → retry, as a *configtls.HandshakeError
//	  (through a proxy: with a hint about TLS-inspecting proxies)
//	a proxy's refusal of CONNECT (407, 403, 502)     → retry, as a *configproxy.RefusedError
//	3xx, 401, 407                                    → retry, as an *EndpointError
//	403 with a Bearer insufficient_scope challenge   → retry, as an *EndpointError
//	403 with a Bearer invalid_token challenge        → as 401: one more try with a fresh
//	                                                   token, then an *EndpointError
//	409 (a transaction that raced another)           → retry, as a conflict (transport.IsConflict):
//	                                                   the dispatcher dead-letters it after a few
//	400, 412, 413, 422                               → queue.Permanent, with the OperationOutcome text
//	413 with Retry-After (temporary: RFC 9110)       → retry, after it
//	other 4xx, 501 with an OperationOutcome          → queue.Permanent
//	other 4xx, 501 without one (a web page, nothing) → retry, as an *EndpointError
//
// A batch (not a transaction) whose entries partly failed is retried with
// only the entries the exchange did not answer 2xx, as long as the process
// runs (Sink.pendingEntries): the others are applied already.
//
// A permanent *StatusError also carries the receiver's whole answer (its
// OperationOutcome, up to queue.MaxOutcomeBytes) through queue.Outcomer,
// so the dead letter keeps it; its Error text keeps only a short extract.
//
// A certificate problem is never permanent: an expired certificate must
// pause delivery, not dead-letter every item. 401 and 407 are treated the
// same way because with mutual TLS they mean ferry's credentials are wrong,
// which no message can fix; the retry policy follows go-retryablehttp
// (429 and 5xx except 501) and the OTel OTLP/HTTP exporter. Likewise a
// 2xx is proof of delivery only when it is the FHIR answer to the bundle
// sent: a TLS-inspecting proxy, a captive portal or an exchange.url that
// points at a web front end answer 200 too, and taking that as delivered
// would empty the queue. An *EndpointError says the address or access is
// wrong; the dispatcher shows it as a configuration problem
// (ConfigProblem, IsEndpointProblem).
package fhirhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// MediaType is the FHIR JSON media type (FHIR R4 http.html#mime-type).
const MediaType = "application/fhir+json"

// Defaults for Config fields left zero.
const (
	DefaultTimeout             = 30 * time.Second
	DefaultMaxIdleConnsPerHost = 8
	// maxResponseBytes bounds how much of a response is read; the rest is
	// discarded (and the connection then not reused).
	maxResponseBytes = 8 << 20
	// minLinkRate is the slowest uplink, in bytes per second, a bundle
	// held in memory is given time for on top of Timeout: 256 kbit/s,
	// as the MLLP sink and listener assume.
	minLinkRate = 32 << 10
	// maxIssueText bounds the receiver text kept in an error.
	maxIssueText = 300
	maxErrorText = 1000
)

// Config configures the sink.
type Config struct {
	// URL is the FHIR base ([base]) the transaction is POSTed to, as
	// given (a trailing slash kept; paths are joined to it without
	// one). It must be https, except for loopback hosts (demo, tests).
	URL string `yaml:"url" json:"url"`
	// Timeout bounds one request including reading the response, plus
	// the time a link of 256 kbit/s takes for a bundle held in memory;
	// one streamed from a file is bounded by its progress instead.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// TLS is the client TLS configuration (CA, client certificate).
	TLS configtls.ClientConfig `yaml:"tls" json:"tls"`
	// MaxIdleConnsPerHost is the keep-alive pool size; set it to at least
	// the dispatcher's worker count.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host" json:"max_idle_conns_per_host"`
	// UserAgent is sent as User-Agent; empty means "ferry".
	UserAgent string `yaml:"-" json:"-"`
	// SMART, when set, adds SMART Backend Services: a Bearer token with
	// every request (smart.go).
	SMART SMARTConfig `yaml:"smart" json:"smart"`
	// UDAP, when set, adds UDAP B2B client credentials (HL7 UDAP Security
	// IG, as TEFCA asks): a Bearer token with every request (udap.go). It
	// excludes SMART.
	UDAP UDAPConfig `yaml:"udap" json:"udap"`
	// UDAPRegistrationFile is where the client_id UDAP registration got
	// is kept (<data_dir>/udap/client.json), so that a restart does not
	// register again. Empty keeps it only in memory.
	UDAPRegistrationFile string `yaml:"-" json:"-"`
	// Proxy is the configuration's proxy section: the bundles, the SMART
	// and UDAP requests and the UDAP revocation checks go through it. The
	// zero value takes the proxy from the environment.
	Proxy configproxy.Config `yaml:"-" json:"-"`
	// OnAuthFailure, when set, is called for every request whose TLS
	// connection failed node authentication (NodeAuthentication of its
	// configtls.HandshakeError): to the exchange, its SMART or UDAP
	// endpoints (discovery, registration, token), a revocation server or
	// an https proxy. remote names that node as scheme://host[:port],
	// without path or credentials. It is not called for network errors
	// (refused, reset, timeout). The gateway records it as an ATNA
	// Security Alert; it must not block.
	OnAuthFailure func(remote string, err *configtls.HandshakeError) `yaml:"-" json:"-"`
}

// Validate checks the settings offline.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required"))
	} else if u, err := url.Parse(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	} else {
		switch {
		case u.Host == "":
			errs = append(errs, fmt.Errorf("url: %q has no host", c.URL))
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		case u.Scheme == "http":
			errs = append(errs, fmt.Errorf("url: %q must use https (plain http is allowed only for loopback)", c.URL))
		default:
			errs = append(errs, fmt.Errorf("url: scheme %q is not http(s)", u.Scheme))
		}
		if u.User != nil {
			errs = append(errs, errors.New("url: must not contain credentials"))
		}
		// ferry adds /<type> (a create) and /.well-known/... (SMART,
		// UDAP discovery) to the base: after a query they would be
		// part of it. The query is not quoted: it may hold a key.
		if u.RawQuery != "" || u.ForceQuery {
			errs = append(errs, errors.New("url: has a query (?...); give the FHIR base alone, scheme://host/path"))
		}
		if u.Fragment != "" {
			errs = append(errs, errors.New("url: has a fragment (#...); give the FHIR base alone, scheme://host/path"))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tls.%w", err))
	}
	if err := c.SMART.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("smart.%w", err))
	}
	if err := c.UDAP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("udap.%w", err))
	}
	if c.SMART.Enabled() && c.UDAP.Enabled() {
		errs = append(errs, errors.New("smart, udap: configure one of them: each gets the access token sent with every request"))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Sink POSTs bundles to the exchange. It is safe for concurrent Send calls;
// one http.Transport is shared so connections are kept alive and reused.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	endpoint string // the base without its trailing slash, to join paths to
	host     string

	mu        sync.RWMutex
	client    *http.Client
	stream    *http.Client // no overall timeout: for bodies streamed from files
	transport *http.Transport
	tokens    tokenSource     // nil without SMART or UDAP
	authTr    *http.Transport // the token requests' to other hosts, with server_name; else nil
	// http1 is set once the exchange asked for HTTP/1.1 (see
	// requiresHTTP1): Connect then builds a transport without HTTP/2.
	http1 atomic.Bool

	// batchMu guards batchDone: for each batch item (by id) that an
	// attempt left partly done, which of its entries (as queued) the
	// exchange answered 2xx, so that a retry sends only the others.
	batchMu   sync.Mutex
	batchDone map[string][]bool
}

// Bounds on remembering a batch's entries done (Sink.batchDone): a batch
// larger than maxPartialBatch, or one beyond maxBatchesDone at once, is
// sent whole again, as a transaction is.
const (
	maxPartialBatch = 32 << 20
	maxBatchesDone  = 4096
)

var _ transport.Sink = (*Sink)(nil)

// New validates cfg and returns an unconnected Sink. A nil logger discards.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fhirhttp config: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ferry"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, _ := url.Parse(cfg.URL)
	return &Sink{cfg: cfg, log: log, endpoint: strings.TrimSuffix(cfg.URL, "/"), host: u.Host}, nil
}

// Connect reads the TLS files and builds the HTTP client. It opens no
// connection: the first Send does, so a down exchange shows up as a
// retryable Send error rather than blocking startup. Errors here are
// configuration errors (missing or mismatched certificate files) and are
// retried by the dispatcher, so fixing the files resumes delivery.
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return nil
	}
	tlsCfg, err := s.cfg.TLS.LoadTLSConfigLog(s.log)
	if err != nil {
		return fmt.Errorf("connect to exchange: %w", err)
	}
	AcceptRenegotiation(tlsCfg)
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * s.cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   s.cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
		// HTTP/2 sends every request over one connection, and net/http
		// keeps one whose requests timed out for the next ones: a
		// connection whose path died silently (a VPN tunnel or a
		// firewall that lost its state) took every bundle until the
		// kernel gave up on it, some 15 minutes. A connection silent
		// for Timeout is asked for a PING, and closed without its
		// answer.
		HTTP2: &http.HTTP2Config{SendPingTimeout: s.cfg.Timeout, PingTimeout: min(s.cfg.Timeout, 15*time.Second)},
	}
	if s.http1.Load() {
		tr.ForceAttemptHTTP2 = false
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
	}
	s.cfg.Proxy.Apply(tr)
	s.transport = tr
	s.client = &http.Client{
		Transport: tr,
		Timeout:   s.cfg.Timeout,
		// A redirect of a POST would be turned into a GET (301/302/303)
		// and lose the bundle; report it instead (see classify).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Streamed bodies are bounded by a watchdog instead of Timeout.
	s.stream = &http.Client{Transport: tr, CheckRedirect: s.client.CheckRedirect}
	auth := s.client
	if o := OtherHosts(s.client, s.cfg.URL); o != s.client {
		auth, s.authTr = o, o.Transport.(*byHost).other
	}
	switch {
	case s.cfg.SMART.Enabled():
		s.tokens, err = newSMARTTokens(s.cfg.SMART, s.endpoint, auth, s.log)
	case s.cfg.UDAP.Enabled():
		s.tokens, err = newUDAPTokens(s.cfg.UDAP, s.cfg.URL, auth, s.cfg.UDAPRegistrationFile, s.log)
	}
	if err != nil {
		s.client, s.stream, s.transport, s.tokens, s.authTr = nil, nil, nil, nil, nil
		return fmt.Errorf("connect to exchange: %w", err)
	}
	return nil
}

// Close drops idle connections and forgets the client; a later Connect
// builds a new one (re-reading the TLS files).
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if s.authTr != nil {
		s.authTr.CloseIdleConnections()
	}
	s.client, s.stream, s.transport, s.tokens, s.authTr = nil, nil, nil, nil, nil
	return nil
}

// AcceptRenegotiation lets an HTTPS server ask for ferry's client
// certificate by one TLS 1.2 renegotiation a connection, after the
// request has come, as IIS does for a site that requires certificates
// without negotiating them in the handshake, and any server that wants
// one for some paths only; Go refuses it unless told, and every request
// failed with "tls: no renegotiation". Browsers and curl accept it. Go
// takes only what the server asks (it never starts one), keeps the
// server's certificate from changing across it (the triple-handshake
// attack), checks RFC 5746's binding of it to the connection where the
// server offers it, and resumes no session in it. HTTP/1.1 waits for
// its answer, so the renegotiation runs with no request data flowing, as
// crypto/tls requires; TLS 1.3 has none.
func AcceptRenegotiation(c *tls.Config) {
	c.Renegotiation = tls.RenegotiateOnceAsClient
}

// OtherHosts returns client, or, when its transport's TLS settings name a
// server (exchange.tls.server_name: the FHIR server reached by an address
// or an alias), a client that verifies every host other than base's
// (a SMART or UDAP token endpoint, discovery, registration) against that
// host's own name, with the same CA, client certificate and proxy. With
// the override on every host, such an endpoint never verified, or would
// have been verified against the FHIR server's name.
func OtherHosts(client *http.Client, base string) *http.Client {
	tr, ok := client.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil || tr.TLSClientConfig.ServerName == "" {
		return client
	}
	u, err := url.Parse(base)
	if err != nil {
		return client
	}
	other := tr.Clone()
	other.TLSClientConfig.ServerName = ""
	c := *client
	c.Transport = &byHost{host: u.Hostname(), same: tr, other: other}
	return &c
}

// byHost sends requests to the FHIR server's host through same and those
// to any other host through other.
type byHost struct {
	host        string // the FHIR base's host name, without port
	same, other *http.Transport
}

func (b *byHost) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.EqualFold(r.URL.Hostname(), b.host) {
		return b.same.RoundTrip(r)
	}
	return b.other.RoundTrip(r)
}

func (b *byHost) CloseIdleConnections() {
	b.same.CloseIdleConnections()
	b.other.CloseIdleConnections()
}

// Send POSTs the item's body (a transaction Bundle, from it.Body or
// streamed from it.Open) and classifies the outcome; see the package
// documentation.
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	s.mu.RLock()
	client, stream, tokens := s.client, s.stream, s.tokens
	s.mu.RUnlock()
	if client == nil {
		return transport.ErrNotConnected
	}
	downgraded, retried := false, false
	for {
		var tok string
		if tokens != nil {
			var err error
			if tok, err = tokens.Token(ctx); err != nil {
				if requiresHTTP1(err) && !downgraded {
					// With a token, the first request of all is
					// the token request (or discovery, a UDAP
					// registration), which a server on the site
					// that renegotiates resets as it does a
					// bundle's.
					downgraded = true
					if client, stream, tokens, err = s.useHTTP1(ctx, client); err != nil {
						return fmt.Errorf("post bundle %s: %w", it.ID, err)
					}
					continue
				}
				if hs := configtls.Diagnose(err); hs != nil {
					s.forget(client)
					s.authFailed(hs, err)
				}
				return fmt.Errorf("post bundle %s: %w", it.ID, err)
			}
		}
		unauthorized, err := s.post(ctx, it, client, stream, tok)
		if requiresHTTP1(err) && !downgraded {
			downgraded = true
			if client, stream, tokens, err = s.useHTTP1(ctx, client); err != nil {
				return fmt.Errorf("post bundle %s: %w", it.ID, err)
			}
			continue
		}
		if unauthorized && tok != "" && !retried {
			// The token expired or was revoked early: one more try with
			// a fresh one; a second 401 is the exchange's answer.
			tokens.Invalidate(tok)
			retried = true
			continue
		}
		if hs := configtls.Diagnose(err); hs != nil {
			s.forget(client)
			s.authFailed(hs, err)
		}
		return err
	}
}

// requiresHTTP1 reports whether err is the exchange's reset of an
// HTTP/2 request with HTTP_1_1_REQUIRED: "a server might use an error
// (Section 5.4) of type HTTP_1_1_REQUIRED to request the client use a
// protocol that supports renegotiation" (RFC 7540 §9.2.1, kept by RFC
// 9113), as IIS does for every request to a site that wants a client
// certificate it did not ask for in the handshake. The request was
// refused for its protocol, not taken; net/http does not send it again
// over HTTP/1.1 itself.
func requiresHTTP1(err error) bool {
	var se h2StreamError
	return err != nil && errors.As(err, &se) && se.Code == h2HTTP11Required
}

// useHTTP1 replaces client, whose exchange asked for HTTP/1.1, with one
// that speaks only HTTP/1.1, as every later connection to it does, and
// returns what Send needs of it.
func (s *Sink) useHTTP1(ctx context.Context, client *http.Client) (*http.Client, *http.Client, tokenSource, error) {
	if !s.http1.Swap(true) {
		s.log.Warn("the exchange asked for HTTP/1.1 (HTTP/2 stream reset HTTP_1_1_REQUIRED), as a server does that asks for the client certificate after the handshake (IIS without \"negotiate client certificate\"); ferry uses HTTP/1.1 with it from now on",
			"exchange", s.host)
	}
	s.forget(client)
	if err := s.Connect(ctx); err != nil {
		return nil, nil, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.client == nil {
		return nil, nil, nil, transport.ErrNotConnected
	}
	return s.client, s.stream, s.tokens, nil
}

// authFailed reports hs, the diagnosis of err, to OnAuthFailure when it
// is a node authentication failure, naming the node whose connection
// failed: an https proxy's (configproxy.TLSError), else the host of the
// request err comes from (a token endpoint may be on another host), else
// the exchange.
func (s *Sink) authFailed(hs *configtls.HandshakeError, err error) {
	if s.cfg.OnAuthFailure == nil || !hs.NodeAuthentication() {
		return
	}
	s.cfg.OnAuthFailure(failedNode(err, s.cfg.URL), hs)
}

// failedNode returns scheme://host[:port] of the node err failed to
// authenticate, or of fallback.
func failedNode(err error, fallback string) string {
	raw := fallback
	var pe *configproxy.TLSError
	var ue *url.Error
	switch {
	case errors.As(err, &pe):
		raw = pe.Proxy
	case errors.As(err, &ue):
		raw = ue.URL
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" {
		u, perr = url.Parse(fallback)
		if perr != nil {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

// forget drops client after a TLS certificate or handshake failure, so
// that the next Send reports transport.ErrNotConnected and the
// dispatcher's Connect builds a new one from the TLS files as they are
// then: the CA pool is read only by Connect, and an operator who fixes
// ca_file (the exchange changed its CA) must not also have to restart
// ferry for delivery to resume.
func (s *Sink) forget(client *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != client {
		return // another Send forgot it already, or Connect replaced it
	}
	s.transport.CloseIdleConnections()
	if s.authTr != nil {
		s.authTr.CloseIdleConnections()
	}
	s.client, s.stream, s.transport, s.tokens, s.authTr = nil, nil, nil, nil, nil
}

// post makes one attempt; unauthorized reports a 401 answer, or a 403
// that refuses the access token sent (tokenRefused).
func (s *Sink) post(ctx context.Context, it *queue.Item, client, stream *http.Client, tok string) (unauthorized bool, _ error) {
	queued := it
	it, entryOf, earlier, err := s.pendingEntries(it)
	if err != nil {
		return false, fmt.Errorf("post bundle %s: %w", it.ID, err)
	}
	var wd *watchdog
	if it.Open != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		wd = newWatchdog(s.cfg.Timeout, cancel)
		defer wd.stop()
		client = stream
	} else {
		// Timeout is the exchange's time; carrying the bundle over a
		// slow uplink takes its own on top (1 MiB at 256 kbit/s, 33
		// s): bounded by Timeout alone, such a bundle was cut on
		// every attempt while the exchange was reading it.
		d := s.cfg.Timeout + time.Duration(len(it.Body))*(time.Second/minLinkRate)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
		client = stream
	}
	// The transaction goes to the base as configured: a server that
	// redirects the base without its slash to the base with one (a
	// Tomcat context root) is answered by setting exchange.url so.
	endpoint, what := s.cfg.URL, "post bundle"
	create := it.Attrs[queue.AttrCreate]
	if create != "" {
		// One resource created on its own (IHE MHD ITI-105 Simplified
		// Publish): POST [base]/<type>.
		if !resourceTypeRE.MatchString(create) {
			return false, queue.Permanent(fmt.Errorf("create %s: %q is not a FHIR resource type", it.ID, create))
		}
		endpoint, what = s.endpoint+"/"+create, "create "+create
	}
	req, sent, err := newRequest(ctx, endpoint, it, wd)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", what, it.ID, err)
	}
	if q := it.Attrs[queue.AttrIfNoneExist]; create != "" && q != "" {
		// A conditional create (FHIR R4 http.html#ccreate): a redelivery
		// after a lost answer finds what the first attempt created.
		req.Header.Set("If-None-Exist", q)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// FHIR R4 http.html: HTTP's default charset being ISO-8859-1,
	// "requests and responses SHALL explicitly set the character
	// encoding to UTF-8 using the charset parameter".
	req.Header.Set("Content-Type", MediaType+"; charset=utf-8")
	req.Header.Set("Accept", MediaType)
	// ferry reads only each entry's response (a create's status and
	// Location), not the stored resources: do not have a 270 MB Binary,
	// or a DocumentReference carrying one, echoed back (FHIR R4
	// http.html#ops).
	req.Header.Set("Prefer", "return=minimal")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	if it.ID != "" {
		req.Header.Set("X-Request-Id", it.ID)
	}
	resp, err := client.Do(req)
	if wd != nil {
		wd.progress() // the answer's body gets its own Timeout
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, ctx.Err()) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		err = cutOff(err)
		if hs := configtls.Diagnose(err); hs != nil {
			return false, fmt.Errorf("%s %s to %s: %w", what, it.ID, s.host, ProxyHint(hs, client, req))
		}
		return false, fmt.Errorf("%s %s to %s: %w", what, it.ID, s.host, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if rest, ok := bytes.CutPrefix(body, []byte(utf8BOM)); ok {
			// An OperationOutcome behind a byte-order mark is one
			// still (RFC 8259 §8.1, as bundleScan reads a 2xx answer).
			more, _ := io.ReadAll(io.LimitReader(resp.Body, int64(len(utf8BOM))))
			body = append(rest, more...)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes)) // let keep-alive reuse the connection
		resp.Body.Close()
		err := classify(resp, body, create, tok != "")
		var se *StatusError
		if create == "" && errors.As(err, &se) {
			// 412, or Medplum's word for it (a 400): the next step
			// names the type of the entry the outcome names.
			i, several := -1, resp.StatusCode == http.StatusPreconditionFailed
			switch {
			case several:
				i = outcomeEntry(body)
			case se.Hint == "" && resp.StatusCode == http.StatusBadRequest:
				i, several = matchedSeveral(body)
			}
			if several {
				se.Hint = contentHint(http.StatusPreconditionFailed, "")
				if sc, err := sent(); err == nil {
					se.Hint = preconditionHint(resp.StatusCode, sc, i)
				}
			}
		}
		return resp.StatusCode == http.StatusUnauthorized || tokenRefused(resp, tok != ""), fmt.Errorf("%s %s to %s: %w", what, it.ID, s.host, withItemID(err, it.ID))
	}
	size := it.Size
	if it.Open == nil {
		size = int64(len(it.Body))
	}
	maxEntries := -1
	if create == "" {
		sent = sync.OnceValues(sent) // classifyAnswer asks again
		if req, err := sent(); err == nil {
			maxEntries = req.entries
		}
	}
	ans := readAnswer(resp.Body, wd, answerLimit(size), maxEntries)
	resp.Body.Close()
	if ans.readErr == nil && ctx.Err() != nil && ans.scan.finish() != nil {
		// The answer was cut because the request was cancelled (the
		// watchdog, a shutdown), even if the read ended as if the
		// answer were whole: that is the error, not a cut answer.
		ans.readErr = context.Cause(ctx)
	}
	if create != "" {
		if err := classifyCreated(resp, ans, create); err != nil {
			return false, fmt.Errorf("%s %s to %s: %w", what, it.ID, s.host, err)
		}
		return false, nil
	}
	missingOK := it.Attrs[queue.AttrMissingOK] == "true"
	missing, done, err := classifyAnswer(resp, ans, sent, missingOK, entryOf, earlier)
	s.noteBatch(queued, sent, done, err)
	if err != nil {
		return false, fmt.Errorf("post bundle %s to %s: %w", it.ID, s.host, withItemID(err, it.ID))
	}
	if missing > 0 {
		s.log.Info("delivered; the exchange holds nothing at some entries' URLs, which this item allows (a replaced document it never received has nothing to supersede)",
			"item", it.ID, "entries", missing)
	}
	return false, nil
}

// pendingEntries returns the item to send for it: it itself, unless it
// is a batch an earlier attempt left partly done (noteBatch), for which
// it is a copy holding the same Bundle with only the entries not yet
// done. A batch's entries succeed or fail one by one (FHIR R4
// http.html#transaction: "there SHALL be no interdependencies between
// the different entries"), so the exchange has applied those it answered
// 2xx: sent again, a JSON Patch add would add twice and a plain create
// create twice. entryOf gives each entry sent its index as queued, and
// earlier the entries left out; both are nil when it goes whole.
func (s *Sink) pendingEntries(it *queue.Item) (_ *queue.Item, entryOf, earlier []int, _ error) {
	s.batchMu.Lock()
	doneAt := s.batchDone[it.ID]
	s.batchMu.Unlock()
	if doneAt == nil {
		return it, nil, nil, nil
	}
	rc, err := it.OpenBody()
	if err != nil {
		return it, nil, nil, fmt.Errorf("read the batch to resend its entries not yet done: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(rc, maxPartialBatch+1))
	rc.Close()
	if err != nil {
		return it, nil, nil, fmt.Errorf("read the batch to resend its entries not yet done: %w", err)
	}
	body, _ = bytes.CutPrefix(body, []byte(utf8BOM))
	start, end, entries, err := batchEntries(body)
	if err != nil || len(entries) != len(doneAt) {
		// Not the batch whose entries were done: one edited when its
		// dead letter was put back (ferry queue retry), or no batch at
		// all. It goes as it is.
		s.batchMu.Lock()
		delete(s.batchDone, it.ID)
		s.batchMu.Unlock()
		return it, nil, nil, nil
	}
	var keep []json.RawMessage
	for i, e := range entries {
		if doneAt[i] {
			earlier = append(earlier, i)
			continue
		}
		keep = append(keep, e)
		entryOf = append(entryOf, i)
	}
	arr, err := json.Marshal(keep)
	if err != nil {
		return it, nil, nil, fmt.Errorf("resend the batch's entries not yet done: %w", err)
	}
	part := *it
	part.Body = append(append(append([]byte(nil), body[:start]...), arr...), body[end:]...)
	part.Open, part.Size = nil, 0
	return &part, entryOf, earlier, nil
}

// batchEntries finds the top-level entry array of body, a batch Bundle:
// its bytes are body[start:end], each entry as written.
func batchEntries(body []byte) (start, end int, entries []json.RawMessage, _ error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, 0, nil, errors.New("not a JSON object")
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0, 0, nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, 0, nil, err
		}
		switch t {
		case "resourceType":
			json.Unmarshal(v, &head.ResourceType)
		case "type":
			json.Unmarshal(v, &head.Type)
		case "entry":
			end = int(dec.InputOffset())
			start = end - len(v)
			if err := json.Unmarshal(v, &entries); err != nil {
				return 0, 0, nil, fmt.Errorf("entry: %w", err)
			}
			found = true
		}
	}
	switch {
	case head.ResourceType != "Bundle" || head.Type != "batch":
		return 0, 0, nil, errors.New("not a batch Bundle")
	case !found:
		return 0, 0, nil, errors.New("no entry array")
	}
	return start, end, entries, nil
}

// noteBatch remembers, after an attempt to send it (or the part of it
// pendingEntries made) that ended in err, which entries of the batch it
// the exchange has done (done, by their index as queued), when err is a
// failure of other entries of a proper batch-response; it forgets the
// item once it is delivered. A refusal for good is remembered too: the
// dispatcher may hold the item instead (its breaker), and a dead letter
// is put back under its id (ferry queue retry), both sent again.
func (s *Sink) noteBatch(it *queue.Item, sent sentBundle, done []int, err error) {
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	if err == nil {
		delete(s.batchDone, it.ID)
		return
	}
	var se *StatusError
	if it.ID == "" || len(done) == 0 || !errors.As(err, &se) || se.Entry < 0 || !se.Batch || it.BodySize() > maxPartialBatch {
		return
	}
	doneAt := s.batchDone[it.ID]
	if doneAt == nil {
		req, serr := sent()
		if serr != nil || len(s.batchDone) >= maxBatchesDone {
			return
		}
		doneAt = make([]bool, req.entries)
		if s.batchDone == nil {
			s.batchDone = map[string][]bool{}
		}
		s.batchDone[it.ID] = doneAt
	}
	for _, i := range done {
		if i < len(doneAt) {
			doneAt[i] = true
		}
	}
}

// cutOff returns err so that it reads as io.ErrUnexpectedEOF (an answer
// that never came: the outcome is unknown, and the dispatcher waits
// unknown_outcome_delay before sending again) when it is HTTP/2's report
// of a request the exchange took and then ended without an answer. That
// is a GOAWAY whose last stream identifier counted the request (net/http
// retries the others itself) followed by the connection's close, as a
// server shut down mid-request does: the request is one "for which the
// sender of the GOAWAY frame might have taken some action" (RFC 9113
// §6.8); or the request's stream reset with any code but REFUSED_STREAM,
// the one that says the stream was closed "prior to any processing"
// (§8.7). The same request whose connection closed without a GOAWAY, or
// over HTTP/1.1, already ends in io.ErrUnexpectedEOF. Other errors are
// returned as they are.
func cutOff(err error) error {
	var se h2StreamError
	switch {
	case strings.Contains(err.Error(), "http2: server sent GOAWAY and closed the connection"):
		// net/http's http2GoAwayError, unexported and without an As.
	case errors.As(err, &se) && se.Code != h2RefusedStream:
	default:
		return err
	}
	return fmt.Errorf("%w (the exchange ended the request without an answer and may have applied it: %w)", err, io.ErrUnexpectedEOF)
}

// h2StreamError receives net/http's HTTP/2 stream error (a RST_STREAM)
// through errors.As: its As method fills any struct of the same fields.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e h2StreamError) Error() string {
	return fmt.Sprintf("stream error: stream ID %d; code %d", e.StreamID, e.Code)
}

// h2RefusedStream and h2HTTP11Required are HTTP/2's REFUSED_STREAM and
// HTTP_1_1_REQUIRED error codes (RFC 9113 §7).
const (
	h2RefusedStream  = 0x7
	h2HTTP11Required = 0xd
)

// withItemID puts the item's id into a hint's command line, so the
// operator can copy it from the dead letter.
func withItemID(err error, id string) error {
	var se *StatusError
	if id != "" && errors.As(err, &se) {
		se.Hint = strings.ReplaceAll(se.Hint, "<id>", id)
	}
	return err
}

// sentBundle tells what the request held: its Bundle type and number of
// entries, which a proper answer must match.
type sentBundle func() (*bundleScan, error)

// newRequest builds the POST. A body held in a file (it.Open) is streamed
// from it with its length known up front, and GetBody reopens it so that
// the transport can send it again (a connection reused after the server
// closed it, an HTTP/2 GOAWAY) without the body ever being in memory;
// wd, when set, watches the reads. The returned sentBundle scans the body
// in memory, or reports what was counted while the file streamed (it
// reads the file once more only if the exchange answered before taking
// the whole body).
func newRequest(ctx context.Context, endpoint string, it *queue.Item, wd *watchdog) (*http.Request, sentBundle, error) {
	if it.Open == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(it.Body))
		return req, func() (*bundleScan, error) {
			var sc bundleScan
			sc.Write(it.Body)
			return &sc, sc.finish()
		}, err
	}
	var counted atomic.Pointer[bundleScan] // set by a read of the whole body
	open := func() (io.ReadCloser, error) {
		rc, err := it.Open()
		if err != nil {
			return rc, err
		}
		return &countingBody{ReadCloser: rc, wd: wd, done: &counted}, nil
	}
	sent := func() (*bundleScan, error) {
		if sc := counted.Load(); sc != nil {
			return sc, sc.finish()
		}
		rc, err := it.Open()
		if err != nil {
			return nil, fmt.Errorf("count the bundle's entries: %w", err)
		}
		defer rc.Close()
		var sc bundleScan
		if _, err := io.Copy(&sc, rc); err != nil {
			return nil, fmt.Errorf("count the bundle's entries: %w", err)
		}
		return &sc, sc.finish()
	}
	body, err := open()
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		body.Close()
		return nil, nil, err
	}
	req.ContentLength = it.Size
	req.GetBody = open
	if it.Size == 0 {
		body.Close()
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return req, sent, nil
}

// watchdog bounds a streamed upload by progress rather than total time: a
// 270 MB fax over a clinic's uplink takes minutes, which a request
// timeout would turn into a failure on every attempt. The request is
// cancelled when no body byte has been taken for timeout, or, once the
// whole body has been taken, when the answer does not come within timeout
// plus the upload's duration so far (the kernel's socket buffers may hold
// megabytes that the receiver still has to read at the link's pace).
type watchdog struct {
	timeout time.Duration
	start   time.Time
	timer   *time.Timer
}

func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{timeout: timeout, start: time.Now()}
	w.timer = time.AfterFunc(timeout, func() {
		// A timeout, as the request Timeout of an in-memory body is:
		// the dispatcher takes the outcome for unknown and waits
		// before sending again (the exchange may be committing).
		cancel(fmt.Errorf("no progress for %s: %w", timeout, context.DeadlineExceeded))
	})
	return w
}

func (w *watchdog) progress() { w.timer.Reset(w.timeout) }
func (w *watchdog) sent()     { w.timer.Reset(w.timeout + time.Since(w.start)) }
func (w *watchdog) stop()     { w.timer.Stop() }

// countingBody reports the reads of a streamed request body to its
// watchdog and counts the bundle's entries as they pass; each (re)open
// counts afresh, and the count is published once the whole body was read.
type countingBody struct {
	io.ReadCloser
	wd   *watchdog
	scan bundleScan
	done *atomic.Pointer[bundleScan]
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.scan.Write(p[:n])
	switch {
	case err == io.EOF:
		b.done.Store(&b.scan)
		if b.wd != nil {
			b.wd.sent()
		}
	case n > 0 && b.wd != nil:
		b.wd.progress()
	}
	return n, err
}

// answer is a 2xx response body as scanned: what the bundle scan found,
// the first bytes kept to explain an improper answer, and a read error.
// tooLong says the body went on past readAnswer's limit and was not read
// to its end.
type answer struct {
	scan    bundleScan
	head    []byte
	readErr error
	tooLong int64
}

// answerLimit bounds the 2xx answer to a request body of size bytes. A
// proper answer to Prefer return=minimal is small; a server that ignores
// it echoes the resources sent, as stored (a narrative added, a Binary's
// data base64 once more), which this leaves ample room for.
func answerLimit(size int64) int64 {
	return maxAnswerBytes + 4*max(size, 0)
}

// maxAnswerBytes is answerLimit's allowance beyond the body's size.
const maxAnswerBytes = 64 << 20

// maxAnswerHead is how much of a 2xx answer is kept to explain it when it
// is not a proper transaction-response.
const maxAnswerHead = 64 << 10

// readAnswer reads a 2xx answer through a bundleScan, keeping each
// entry's outcome (for a dead letter) and the start of the body; wd,
// when set, counts each read as progress. It stops as soon as the answer
// cannot be the one wanted: not JSON (a web page, an event stream), more
// entries than maxEntries, the number sent (-1: any), or longer than
// limit (tooLong); so an endpoint streaming without end neither holds
// the worker (a streamed body's watchdog sees each read as progress) nor
// fills memory with the entries scanned.
func readAnswer(r io.Reader, wd *watchdog, limit int64, maxEntries int) *answer {
	a := &answer{scan: bundleScan{outcomeCap: queue.MaxOutcomeBytes + 4}}
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if total += int64(n); total > limit {
				a.tooLong = limit
				return a
			}
			a.scan.Write(buf[:n])
			if room := maxAnswerHead - len(a.head); room > 0 {
				a.head = append(a.head, buf[:min(n, room)]...)
			}
			if wd != nil {
				wd.progress()
			}
		}
		if err == io.EOF || a.scan.err != nil || maxEntries >= 0 && a.scan.entries > maxEntries {
			return a
		}
		if err != nil {
			a.readErr = err
			return a
		}
	}
}

// StatusError is a non-2xx answer from the exchange (for the whole request
// or, in a transaction-response, for one entry). Its Error text includes
// what the receiver said (OperationOutcome issues, truncated); Summary
// leaves that out because a receiver may quote patient data. A permanent
// one also holds the answer itself (Outcome), for the dead letter.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Status is the status line text, e.g. "400 Bad Request".
	Status string
	// Entry is the index of the failing transaction-response (or
	// batch-response) entry, or -1 when the request itself failed.
	Entry int
	// Batch says the bundle sent was a batch, whose entries fail one by
	// one, rather than a transaction.
	Batch bool
	// Issues are the receiver's OperationOutcome issues (or a snippet of a
	// non-FHIR body), truncated.
	Issues []Issue
	// Wait is the receiver's Retry-After, zero when absent.
	Wait time.Duration
	// Location is the redirect target for 3xx answers.
	Location string
	// Body is the receiver's answer as received, for a permanent failure
	// only: the response body, or for a failed transaction-response entry
	// that entry's outcome (for several refused, every one's:
	// entryOutcomes); cut to queue.MaxOutcomeBytes (BodyTruncated).
	// It may quote patient data: it goes to the dead letter, never to a
	// log (Error and Summary leave it out).
	Body          []byte
	BodyTruncated bool
	// Hint is the operator's next step when the cause lies outside the
	// bundle (412: duplicate patients at the exchange; 413: its size
	// limit). It is fixed text, no PHI, so Summary keeps it too.
	Hint string
	// Partial, for a failed entry of a response Bundle, names the other
	// entries that failed and, in a transaction-response, how many the
	// exchange reports done although the transaction failed (it broke
	// the transaction's all-or-nothing rule). Fixed text, no PHI.
	Partial string
	// Server names who answered when it is not the FHIR base (the
	// SMART or UDAP token endpoint, UDAP discovery or registration),
	// so that the operator looks at the right server; "" is the
	// exchange's FHIR base.
	Server string
	// transient says that the OperationOutcome (the answer's or the
	// failed entry's) names only transient errors (transientOutcome):
	// retried, whatever the status.
	transient bool
}

// Outcome returns Body for the dead letter (queue.Outcomer).
func (e *StatusError) Outcome() ([]byte, bool) { return e.Body, e.BodyTruncated }

// keepBody copies at most queue.MaxOutcomeBytes of body into e, so that
// the error does not pin the whole response buffer. truncated says body
// itself is already cut short (the response was larger than was read).
func (e *StatusError) keepBody(body []byte, truncated bool) {
	if len(body) > queue.MaxOutcomeBytes {
		cut := queue.MaxOutcomeBytes
		for cut > 0 && body[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		body, truncated = body[:cut], true
	}
	e.Body, e.BodyTruncated = bytes.Clone(body), truncated
}

// Issue is one OperationOutcome.issue, reduced to what an operator needs.
type Issue struct {
	Severity string
	Code     string
	Text     string
}

func (e *StatusError) where() string {
	if e.Server != "" {
		return e.Server + ": "
	}
	if e.Entry >= 0 && e.Batch {
		return fmt.Sprintf("batch entry %d: ", e.Entry)
	}
	if e.Entry >= 0 {
		return fmt.Sprintf("transaction entry %d: ", e.Entry)
	}
	return ""
}

func (e *StatusError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%sexchange answered %s", e.where(), e.Status)
	if e.Location != "" {
		fmt.Fprintf(&sb, " redirecting to %s (fix exchange.url)", e.Location)
	}
	for i, is := range e.Issues {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		if is.Severity != "" || is.Code != "" {
			fmt.Fprintf(&sb, "%s %s", is.Severity, is.Code)
			if is.Text != "" {
				sb.WriteString(": ")
			}
		}
		sb.WriteString(is.Text)
		if sb.Len() > maxErrorText {
			break
		}
	}
	return truncate(sb.String(), maxErrorText) + e.hint()
}

func (e *StatusError) hint() string {
	s := ""
	if e.Hint != "" {
		s = " (" + e.Hint + ")"
	}
	if e.Partial != "" {
		s += "; " + e.Partial
	}
	return s
}

// Summary is Error without the receiver's free text: status and issue codes.
func (e *StatusError) Summary() string {
	s := fmt.Sprintf("%sexchange answered %s", e.where(), e.Status)
	var codes []string
	for _, is := range e.Issues {
		if is.Code != "" {
			codes = append(codes, is.Code)
		}
	}
	if len(codes) > 0 {
		s += " (issue " + strings.Join(codes, ", ") + ")"
	}
	return s + e.hint()
}

// RetryAfter is the receiver's requested delay (transport.RetryAfterOf).
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Conflict reports a 409 Conflict (transport.Conflicter): FHIR servers
// answer it when two transactions race on one shared resource (a
// conditional update of the same Practitioner or Organization from two
// workers, a version conflict), which another attempt usually gets past.
// It is returned as a retryable error, its answer kept (Body) for the
// dead letter the dispatcher makes of it after
// DispatcherOptions.ConflictRetries retries. 412 (several resources
// match a conditional identifier) is not: it stays until someone merges
// the duplicates.
func (e *StatusError) Conflict() bool { return e.Code == http.StatusConflict }

// OutcomeUnknown reports a 504 Gateway Timeout or 502 Bad Gateway for the
// request itself (transport.OutcomeUnknowner): a gateway or load balancer
// in front of the exchange stopped waiting for it (RFC 9110 §15.6.5: it
// "did not receive a timely response from an upstream server"), or lost
// its connection to it mid-request (nginx's "upstream prematurely closed
// connection"), while the exchange may have the bundle and still be
// committing it; a quick re-send would race that. An entry's status in
// a response Bundle is the exchange's own answer and is not. A CDN in
// front of the exchange says the same with its own codes: Cloudflare's
// 524 (it reached the exchange, which did not answer in time) and 520
// (the exchange's answer was empty or broken, a connection closed
// mid-request).
func (e *StatusError) OutcomeUnknown() bool {
	switch e.Code {
	case http.StatusGatewayTimeout, http.StatusBadGateway, statusOriginTimeout, statusOriginUnknown:
		return e.Entry < 0 && e.Server == ""
	}
	return false
}

// Cloudflare's status codes for an exchange behind it that did not
// answer in time (524, "A Timeout Occurred") or answered nothing it
// could pass on (520, "Web Server Returned an Unknown Error").
const (
	statusOriginUnknown = 520
	statusOriginTimeout = 524
)

// Retryable reports whether the status is worth retrying.
func (e *StatusError) Retryable() bool { return retryable(e.Code) || e.transient }

// retryable reports whether a status is worth retrying whatever the body
// says: the exchange is busy or down (408, 425, 429, 5xx except 501), or
// ferry's access to it is wrong (3xx, 401, 407), which no message can fix.
func retryable(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code == http.StatusTooEarly:
		return true
	case code == http.StatusUnauthorized, code == http.StatusProxyAuthRequired:
		return true // ferry's credentials, not the message
	case code >= 300 && code < 400:
		return true // misconfigured URL, not the message
	case code == http.StatusNotImplemented:
		return false
	case code >= 500:
		return true
	}
	return false
}

// rejectsContent reports whether a status is how a FHIR server rejects the
// content of a request, whatever the body: retrying the same bundle gets
// the same answer, so it is dead-lettered (409 only after the
// dispatcher's few retries: see StatusError.Conflict).
func rejectsContent(code int) bool {
	switch code {
	case http.StatusConflict, http.StatusPreconditionFailed,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// EndpointError is a failure that says exchange.url, or ferry's access to
// the exchange, is wrong rather than the item: a redirect, 401/407, a 403,
// 404 or 405 that is not a FHIR OperationOutcome (a web server, proxy or
// firewall answered, not the FHIR server), or a 2xx that is not a proper
// transaction-response (a TLS-inspecting proxy, a captive portal, a web
// front end). It is never permanent: dead-lettering would empty the queue
// into the dead-letter store, and a delivered verdict would lose the data.
// The dispatcher retries it with backoff and, through ConfigProblem,
// shows it on the status page as needing an operator.
type EndpointError struct {
	// Problem says in plain words what was seen and what to check; it
	// quotes nothing the exchange sent, so it holds no PHI.
	Problem string
	// Err is the answer, usually a *StatusError.
	Err error
}

func (e *EndpointError) Error() string { return e.Err.Error() + "; " + e.Problem }
func (e *EndpointError) Unwrap() error { return e.Err }

// Summary is Error without the receiver's free text.
func (e *EndpointError) Summary() string { return transport.Summary(e.Err) + "; " + e.Problem }

// ConfigProblem marks the error as one an operator must fix (the
// dispatcher puts it in Stats.ConfigProblem for the status page).
func (e *EndpointError) ConfigProblem() string { return "exchange endpoint: " + e.Summary() }

// IsEndpointProblem reports whether err is, or wraps, an *EndpointError:
// a retryable failure that points at the exchange's address or ferry's
// access to it, to be shown to an operator.
func IsEndpointProblem(err error) bool {
	var ee *EndpointError
	return errors.As(err, &ee)
}

// classify turns a non-2xx response into a retryable *StatusError, an
// *EndpointError, or queue.Permanent(*StatusError). A rejection is
// permanent only when a FHIR server made it: a content status (412, 413,
// 422) or any other 4xx or 501, 400 included, that carries an
// OperationOutcome. A 409 is a content status too, but one a race with
// another transaction causes: it is returned retryable, as a conflict
// (StatusError.Conflict), and the dispatcher bounds its retries.
// HAPI, for one, answers a failed transaction with 404 and an outcome when
// a reference cannot be resolved; a bare 404 page from a web server means
// exchange.url is wrong, and dead-lettering the backlog would not fix it.
//
// typ is the resource type of a create (queue.AttrCreate), "" for a
// bundle; withToken says the request carried an access token.
func classify(resp *http.Response, body []byte, typ string, withToken bool) error {
	code := resp.StatusCode
	ct := resp.Header.Get("Content-Type")
	se := &StatusError{
		Code:     code,
		Status:   statusText(code, resp.Status),
		Entry:    -1,
		Issues:   issuesFrom(body, ct),
		Location: resp.Header.Get("Location"),
	}
	if code < 300 || code >= 400 {
		se.Location = ""
	}
	switch {
	case retryable(code):
		se.Wait = parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp))
		switch {
		case code >= 300 && code < 400:
			to := ""
			if se.Location != "" {
				to = " to " + truncate(oneLine(se.Location), 200)
			}
			return &EndpointError{Problem: "the exchange redirects" + to + "; set exchange.url to the FHIR base it names", Err: se}
		case code == http.StatusUnauthorized:
			return &EndpointError{Problem: unauthorizedProblem(resp.Header, withToken), Err: se}
		case code == http.StatusProxyAuthRequired:
			return &EndpointError{Problem: "a proxy between ferry and the exchange asks for a login; let ferry through it or bypass it (NO_PROXY)", Err: se}
		}
		return se
	case code == http.StatusForbidden && bearerError(resp.Header) == "insufficient_scope":
		// RFC 6750 §3.1: the access token lacks a scope the request
		// needs. That is ferry's authorization at the exchange, which no
		// bundle can fix, even when a FHIR server explains it with an
		// OperationOutcome: the bundles wait for the operator.
		return &EndpointError{Problem: "the exchange refused ferry's access token for its scope (insufficient_scope); ask the exchange to grant ferry's client the scope it needs to write these resources, or set exchange.auth.smart.scope (udap.scope)", Err: se}
	case code == http.StatusRequestEntityTooLarge && hasRetryAfter(resp.Header.Get("Retry-After")):
		// RFC 9110 §15.5.14: "If the condition is temporary, the
		// server SHOULD generate a Retry-After header field to
		// indicate that it is temporary and after what time the client
		// MAY try again" (a storage quota used up for now).
		se.transient = true
		se.Wait = parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp))
		return se
	case tokenRefused(resp, withToken):
		// Send has already tried a fresh token.
		return &EndpointError{Problem: unauthorizedProblem(resp.Header, withToken), Err: se}
	case (rejectsContent(code) || isOperationOutcome(body)) && code != http.StatusConflict && transientOutcome(body):
		// The server says the bundle is fine and it is not, for now.
		se.transient = true
		se.Wait = parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp))
		return se
	case rejectsContent(code) || isOperationOutcome(body):
		se.Hint = contentHint(code, typ)
		se.keepBody(body, len(body) >= maxResponseBytes)
		if se.Conflict() {
			return se // retried a few times by the dispatcher
		}
		return queue.Permanent(se)
	}
	return &EndpointError{Problem: notFHIRProblem(code, ct, body), Err: se}
}

// tokenRefused reports whether resp is a 403 that refuses the access
// token a request carried (withToken) as invalid: WWW-Authenticate:
// Bearer error="invalid_token", "The access token provided is expired,
// revoked, malformed, or invalid for other reasons", for which RFC 6750
// §3.1 says the server "SHOULD respond with the HTTP 401 (Unauthorized)
// status code" but some answer 403. It names ferry's credential, not the
// bundle, as a 401 does.
func tokenRefused(resp *http.Response, withToken bool) bool {
	return withToken && resp.StatusCode == http.StatusForbidden && bearerError(resp.Header) == "invalid_token"
}

// unauthorizedProblem explains a 401 by the credential the exchange
// refused. With an access token sent (Send has already tried a fresh
// one), the token; without one, to an exchange that challenges Bearer
// (RFC 6750 §3), the token ferry did not send; else the client
// certificate, the one credential ferry showed.
func unauthorizedProblem(h http.Header, withToken bool) string {
	switch {
	case withToken:
		why := ""
		switch code := bearerError(h); code {
		case "invalid_token", "invalid_request", "insufficient_scope": // RFC 6750 §3.1
			why = " (" + code + ")"
		}
		return "the exchange refused ferry's access token" + why + ", a fresh one too; check ferry's client registration at the exchange's authorization server (its client id, its key or certificate, the FHIR base its tokens are for) and ferry's access at the exchange"
	case challengesBearer(h):
		return "the exchange asks for an OAuth access token (WWW-Authenticate: Bearer), and ferry sends one only with exchange.auth.smart or exchange.auth.udap set; configure the one the exchange registered ferry's client for"
	}
	return "the exchange does not accept ferry's credentials; check the client certificate and ferry's access at the exchange"
}

// challengesBearer reports whether the WWW-Authenticate header has a
// Bearer challenge.
func challengesBearer(h http.Header) bool {
	for _, c := range challenges(h) {
		if strings.EqualFold(c.scheme, "Bearer") {
			return true
		}
	}
	return false
}

// bearerError is the error code of a Bearer challenge in the
// WWW-Authenticate header (RFC 6750 §3: Bearer realm="x",
// error="insufficient_scope"), wherever it stands among the field's
// challenges; "" when there is none.
func bearerError(h http.Header) string {
	for _, c := range challenges(h) {
		if e := c.params["error"]; e != "" && strings.EqualFold(c.scheme, "Bearer") {
			return e
		}
	}
	return ""
}

// challenge is one authentication challenge: its scheme and its
// auth-params, names in lower case.
type challenge struct {
	scheme string
	params map[string]string
}

// challenges reads the WWW-Authenticate header's challenges. A field
// value may hold several (RFC 9110 §11.6.1: "the field value might
// contain more than one challenge, and each challenge can contain a
// comma-separated list of authentication parameters"), as a proxy that
// joins the field lines into one (§5.3) writes them: challenge =
// auth-scheme [ 1*SP ( token68 / #auth-param ) ], auth-param = token BWS
// "=" BWS ( token / quoted-string ). An element of the comma-separated
// list that is a token followed by "=" is a parameter of the challenge
// before it; any other starts a challenge.
func challenges(h http.Header) []challenge {
	var out []challenge
	for _, v := range h.Values("WWW-Authenticate") {
		for _, e := range splitUnquoted(v) {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			tok := e[:len(e)-len(strings.TrimLeft(e, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))]
			rest := e[len(tok):]
			if tok == "" || strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
				if len(out) > 0 {
					out[len(out)-1].addParam(e)
				}
				continue
			}
			c := challenge{scheme: tok, params: map[string]string{}}
			c.addParam(strings.TrimSpace(rest))
			out = append(out, c)
		}
	}
	return out
}

// addParam adds the auth-param p (name=token or name="quoted string") to
// c; the first of a name counts.
func (c challenge) addParam(p string) {
	name, value, ok := strings.Cut(p, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || name == "" {
		return
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		// A quoted-string (RFC 9110 §5.6.4): its quoted-pairs unescaped.
		var sb strings.Builder
		for i := 1; i < len(value) && value[i] != '"'; i++ {
			if value[i] == '\\' && i+1 < len(value) {
				i++
			}
			sb.WriteByte(value[i])
		}
		value = sb.String()
	}
	if _, seen := c.params[name]; !seen {
		c.params[name] = value
	}
}

// splitUnquoted splits v at the commas outside quoted strings.
func splitUnquoted(v string) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch {
		case quoted && v[i] == '\\':
			i++
		case v[i] == '"':
			quoted = !quoted
		case v[i] == ',' && !quoted:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

// notFHIRProblem explains a rejection that did not come from a FHIR server.
func notFHIRProblem(code int, contentType string, body []byte) string {
	what := "without a FHIR OperationOutcome"
	if len(bytes.TrimSpace(body)) == 0 {
		what = "with an empty body"
	} else if mt := mediaType(contentType); mt != "" {
		what = "with a " + mt + " page, not a FHIR OperationOutcome"
	}
	switch code {
	case http.StatusBadRequest:
		// A FHIR server explains a 400 with an OperationOutcome; a bare
		// one comes from what stands in front of it: nginx answers a
		// missing or unaccepted client certificate with "400 No required
		// SSL certificate was sent".
		return "the exchange or a proxy in front of it refused the request " + what + " (nginx answers a missing or unaccepted client certificate this way); check the client certificate and exchange.url"
	case http.StatusForbidden:
		return "the exchange or a firewall in front of it refused access " + what + "; check ferry's access rights and exchange.url"
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "the exchange answered " + what + "; exchange.url is probably not the FHIR base"
	}
	return "the exchange answered " + what + "; check exchange.url and what answers there"
}

// contentHint is the operator's next step for a content rejection whose
// cause is not in the bundle itself. typ is the resource type of the
// request or entry rejected, "" when not known (a transaction refused
// whole).
func contentHint(code int, typ string) string {
	switch code {
	case http.StatusPreconditionFailed:
		// FHIR R4 http.html, conditional create and update: "Multiple
		// matches: The server returns a 412 Precondition Failed error
		// indicating the client's criteria were not selective enough".
		// Any conditional entry may be it: a Practitioner, an
		// Organization, a document, not only a Patient.
		switch typ {
		case "":
			return "several resources at the exchange match a conditional identifier of the bundle (a Patient's, a Practitioner's, an Organization's…; the exchange's OperationOutcome names it): merge the duplicates there, then run `ferry queue retry <id>`"
		case "Patient":
			return "several Patient resources at the exchange match the conditional identifier: merge the duplicate patients there, then run `ferry queue retry <id>`"
		}
		return "several " + typ + " resources at the exchange match the conditional identifier: merge or remove the duplicates there, then run `ferry queue retry <id>`"
	case http.StatusRequestEntityTooLarge:
		return "the bundle is larger than the exchange accepts: ask the exchange to raise its request size limit, then run `ferry queue retry <id>`"
	}
	return ""
}

// preconditionHint is the next step for a 412 (or Medplum's 400 for
// several matches) refusing entry i of the bundle sent (-1: not known).
// An entry with request.ifMatch answered 412 names a version the
// resource at the exchange no longer has (FHIR R4 http.html#concurrency:
// "If the version id given in the If-Match header does not match, the
// server returns a 412 Precondition Failed status code"), which sending
// it again does not change; any other 412 is several resources matching
// a conditional identifier.
func preconditionHint(code int, sent *bundleScan, i int) string {
	typ := ""
	if i >= 0 && i < len(sent.types) {
		typ = sent.types[i]
	}
	if code == http.StatusPreconditionFailed && i >= 0 && i < len(sent.ifMatch) && sent.ifMatch[i] {
		return "the " + nameOr(typ, "resource") + " at the exchange has changed since the version the entry's ifMatch names (FHIR R4 http.html#concurrency), and sending the entry again is refused again: export the record again from its source"
	}
	return contentHint(http.StatusPreconditionFailed, typ)
}

// mediaType is the media type of a Content-Type header, or "" when it is
// not a plain type/subtype (it is quoted in status text).
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if len(mt) > 80 || strings.Count(mt, "/") != 1 {
		return ""
	}
	for _, r := range mt {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("/.+-_", r)) {
			return ""
		}
	}
	return mt
}

// isOperationOutcome reports whether body is a FHIR OperationOutcome.
func isOperationOutcome(body []byte) bool {
	var oo struct {
		ResourceType string `json:"resourceType"`
	}
	return json.Unmarshal(body, &oo) == nil && oo.ResourceType == "OperationOutcome"
}

// classifyAnswer checks a 2xx answer. Only a Bundle of the type that
// answers the request (transaction-response for a transaction; a batch
// passed through from an export folder gets a batch-response) with one
// entry per request entry, each 2xx, means delivered. Anything else is an
// *EndpointError: a proxy page, a portal, an OperationOutcome, a cut or
// empty body, 202 Accepted (asynchronous processing ferry cannot follow)
// all leave the item in the queue. A failed entry is classified like a
// request status: a server may answer 200 while an entry failed (batches
// do; a transaction should not, but we do not rely on it).
//
// With missingOK (queue.AttrMissingOK) a batch entry answered 404 or 410
// counts as done, and so does a 400 whose OperationOutcome says that the
// conditional request matched nothing (matchedNothing); missing says how
// many were.
//
// entryOf, when the bundle sent is the part of a queued batch not yet
// done (Sink.pendingEntries), gives each entry's index in the batch as
// queued, by which failures are named, and earlier the entries done on
// earlier attempts; both are nil for a bundle sent whole. done lists, by
// their index as queued, the entries of a proper response Bundle that
// the exchange answered 2xx (or, with missingOK, holds nothing for).
func classifyAnswer(resp *http.Response, a *answer, sent sentBundle, missingOK bool, entryOf, earlier []int) (missing int, done []int, _ error) {
	code := resp.StatusCode
	ct := resp.Header.Get("Content-Type")
	se := &StatusError{Code: code, Status: statusText(code, resp.Status), Entry: -1}
	improper := func(problem string) (int, []int, error) {
		se.Issues = issuesFrom(a.head, ct)
		return 0, nil, &EndpointError{Problem: problem, Err: se}
	}
	req, err := sent()
	if err != nil {
		// ferry built the bundle; this is a local fault (a body file
		// unreadable now), not proof of delivery: try again.
		return 0, nil, fmt.Errorf("check the answer against the bundle sent: %w", err)
	}
	queuedIndex := func(i int) int {
		if i < len(entryOf) {
			return entryOf[i]
		}
		return i
	}
	want := "transaction"
	if req.resourceType == "Bundle" && req.typ == "batch" {
		want = "batch"
	}
	want += "-response"
	sc := &a.scan
	switch scanErr := sc.finish(); {
	case a.readErr != nil:
		return 0, nil, fmt.Errorf("read the exchange's answer: %w", a.readErr)
	case code == http.StatusAccepted:
		// RFC 9110 §15.3.3: "the processing has not been completed",
		// whatever the body says of the entries.
		return improper("the exchange answered 202 Accepted to a " + strings.TrimSuffix(want, "-response") + ": it may process it later, or refuse it then, and ferry cannot follow that up")
	case a.tooLong > 0:
		return improper(fmt.Sprintf("the exchange's answer went on past %d bytes, more than a %s to this bundle can hold, and was not read to its end; a proxy or web front end may stand in the way, or exchange.url is not the FHIR base", a.tooLong, want))
	case sc.entries > req.entries:
		return improper(fmt.Sprintf("the exchange's answer has more entries than the %d sent, and was not read to its end; it is not the %s to this bundle", req.entries, want))
	case scanErr != nil && len(bytes.TrimSpace(a.head)) == 0:
		return improper("the exchange answered with no body, not a " + want + " Bundle; check exchange.url")
	case scanErr != nil && isJSONType(ct):
		return improper("the exchange's answer is cut or not valid JSON, not a " + want + " Bundle")
	case scanErr != nil:
		what := "a non-JSON answer"
		if mt := mediaType(ct); mt != "" {
			what = "a " + mt + " page"
		}
		return improper("the exchange answered with " + what + ", not a " + want + " Bundle; a proxy, captive portal or web front end may stand in the way, or exchange.url is not the FHIR base")
	case sc.resourceType == "OperationOutcome":
		return improper("the exchange answered an OperationOutcome, not a " + want + " Bundle")
	case sc.resourceType != "Bundle":
		return improper(fmt.Sprintf("the exchange answered a %s, not a %s Bundle", nameOr(sc.resourceType, "JSON value without resourceType"), want))
	case sc.typ != want:
		return improper(fmt.Sprintf("the exchange answered a Bundle of type %s to a %s; it did not process the bundle as sent", nameOr(sc.typ, "(none)"), strings.TrimSuffix(want, "-response")))
	case sc.entries != req.entries:
		return improper(fmt.Sprintf("the exchange's %s has %d entries for the %d sent", want, sc.entries, req.entries))
	}
	var worst *StatusError
	var failed []int            // the entries that failed
	var rejected []entryOutcome // those refused for good, with their outcomes
	for i, status := range sc.statuses {
		code := leadingInt(status)
		if code >= 200 && code < 300 {
			done = append(done, queuedIndex(i))
			continue
		}
		if missingOK && want == "batch-response" && (code == http.StatusNotFound || code == http.StatusGone) {
			missing++
			done = append(done, queuedIndex(i))
			continue
		}
		if code == 0 {
			return improper(fmt.Sprintf("entry %d of the exchange's %s has no response status", queuedIndex(i), want))
		}
		var outcome []byte
		cut := false
		if i < len(sc.outcomes) {
			outcome, cut = sc.outcomes[i], sc.outcomeCut[i]
		}
		if missingOK && want == "batch-response" && code == http.StatusBadRequest && matchedNothing(outcome) {
			missing++
			done = append(done, queuedIndex(i))
			continue
		}
		failed = append(failed, queuedIndex(i))
		se := &StatusError{Code: code, Status: statusText(code, status), Entry: queuedIndex(i), Batch: want == "batch-response", Issues: issuesFrom(outcome, MediaType)}
		if code != http.StatusConflict && !retryable(code) && transientOutcome(outcome) {
			// Retried as a busy exchange is (entryRank).
			se.transient = true
		}
		if !retryable(code) && !se.transient {
			typ := ""
			if i < len(req.types) {
				typ = req.types[i]
			}
			se.Hint = contentHint(code, typ)
			if _, several := matchedSeveral(outcome); (several && code == http.StatusBadRequest) || code == http.StatusPreconditionFailed {
				se.Hint = preconditionHint(code, req, i) // a 400: Medplum's word for a 412
			}
			if se.Batch && (code == http.StatusNotFound || code == http.StatusGone) {
				// ferry's own batches are status changes: PATCHes of
				// results an earlier message wrote (v2fhir.StatusBatch)
				// or of a document an MDM cancel (T11) or status change
				// (T03) names, or of the visit an ADT cancel whose PV1
				// names only the visit changes (v2fhir.ChangeBatch);
				// supersede batches are marked queue.AttrMissingOK and
				// never get here. A batch passed through from a folder
				// may be anything, so the hint says all.
				se.Hint = "the exchange holds no resource at this entry's URL; for an HL7 v2 status change (OBX-11 U), the result it makes final never reached the exchange; for an MDM cancel (T11) or document status change (T03), the document it names never reached the exchange through ferry: if the exchange holds it under another id, withdraw it there; for an ADT cancel (A11, A12, A13, A25, A26, A27, A38) whose PV1 names only the visit, the visit it names (PV1-19) never reached the exchange through ferry; the other entries of a batch are not affected"
			}
			se.keepBody(outcome, cut)
			rejected = append(rejected, entryOutcome{entry: queuedIndex(i), status: se.Status, outcome: outcome, cut: cut})
		}
		// A retryable entry failure wins: retrying the whole (idempotent)
		// bundle may succeed, dead-lettering it would lose the other entries.
		// A conflict loses to a rejection of content, which no retry fixes.
		if worst == nil || entryRank(se) > entryRank(worst) {
			worst = se
		}
	}
	if worst == nil {
		return missing, done, nil
	}
	worst.Partial = partialText(failed, worst.Entry, req.entries, !worst.Batch, earlier)
	if len(rejected) > 1 && !retryable(worst.Code) && !worst.transient {
		// Each entry refused for its own reason: the dead letter keeps
		// every one's outcome, not only the one that decided its fate.
		b, cut := entryOutcomes(rejected)
		worst.keepBody(b, cut)
	}
	if retryable(worst.Code) || worst.transient || worst.Conflict() {
		return 0, done, worst
	}
	return 0, done, queue.Permanent(worst)
}

// entryOutcome is a response Bundle entry refused for good: its index,
// status and OperationOutcome (nil when it had none; cut when the scan
// kept only its start).
type entryOutcome struct {
	entry   int
	status  string
	outcome []byte
	cut     bool
}

// entryOutcomes is the answer a dead letter keeps for several refused
// entries of a response Bundle: a JSON array of {"entry": index,
// "status": status, "outcome": OperationOutcome as received}, an outcome
// cut short (or not JSON) kept as a string. cut says one was cut.
func entryOutcomes(es []entryOutcome) ([]byte, bool) {
	type kept struct {
		Entry   int    `json:"entry"`
		Status  string `json:"status"`
		Outcome any    `json:"outcome,omitempty"`
	}
	out := make([]kept, len(es))
	cut := false
	for i, e := range es {
		out[i] = kept{Entry: e.entry, Status: e.status}
		o := bytes.TrimSpace(e.outcome)
		switch {
		case len(o) == 0:
		case !e.cut && json.Valid(o):
			out[i].Outcome = json.RawMessage(o)
		default:
			out[i].Outcome = string(o)
		}
		cut = cut || e.cut
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the outcomes' text as the exchange wrote it
	enc.Encode(out)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), cut
}

// partialText is StatusError.Partial for the entry shown (the one that
// decides the bundle's fate) among the failed entries of a response
// Bundle of n entries. A transaction-response with some entries done and
// others failed says the exchange did not apply the transaction
// all-or-nothing (FHIR R4 http.html#transaction: "all actions must
// succeed or fail together"): the entries done may be stored already,
// which an exchange engineer needs to know. The item is still retried or
// dead-lettered as its worst entry says, never taken as delivered.
// earlier names the entries of a batch the exchange applied on earlier
// attempts, which were not sent again.
func partialText(failed []int, shown, n int, transaction bool, earlier []int) string {
	var others []string
	for _, i := range failed {
		if i != shown {
			others = append(others, strconv.Itoa(i))
		}
	}
	var parts []string
	switch len(others) {
	case 0:
	case 1:
		parts = append(parts, "entry "+others[0]+" failed too")
	default:
		parts = append(parts, "entries "+strings.Join(others, ", ")+" failed too")
	}
	if done := n - len(failed); transaction && done > 0 {
		parts = append(parts, fmt.Sprintf("the exchange's transaction-response reports the other %d of the %d entries done, so it did not apply the transaction all-or-nothing (FHIR R4 http.html#transaction) and those may already be stored there", done, n))
	}
	switch len(earlier) {
	case 0:
	case 1:
		parts = append(parts, "entry "+strconv.Itoa(earlier[0])+" was applied by the exchange on an earlier attempt and not sent again")
	default:
		var s []string
		for _, i := range earlier {
			s = append(s, strconv.Itoa(i))
		}
		parts = append(parts, "entries "+strings.Join(s, ", ")+" were applied by the exchange on an earlier attempt and not sent again")
	}
	return strings.Join(parts, "; ")
}

// resourceTypeRE is what a FHIR resource type name looks like.
var resourceTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// classifyCreated checks a 2xx answer to a create of a resource of type
// typ. The exchange has created it (or, for a conditional create, found
// it) when its Location names a typ/<id> (FHIR R4 http.html#create: a
// server answers Prefer return=minimal with no body), or when the body
// is the typ itself. Anything else is an *EndpointError, as for a bundle:
// a proxy page, a portal, 202 Accepted, an OperationOutcome without a
// Location are no proof that it was stored.
func classifyCreated(resp *http.Response, a *answer, typ string) error {
	code := resp.StatusCode
	ct := resp.Header.Get("Content-Type")
	se := &StatusError{Code: code, Status: statusText(code, resp.Status), Entry: -1}
	improper := func(problem string) error {
		se.Issues = issuesFrom(a.head, ct)
		return &EndpointError{Problem: problem, Err: se}
	}
	if a.readErr != nil {
		return fmt.Errorf("read the exchange's answer: %w", a.readErr)
	}
	if a.tooLong > 0 && !locationNames(resp.Header.Get("Location"), typ) {
		return improper(fmt.Sprintf("the exchange answered a create of a %s with more than %d bytes, not read to its end, and no Location naming the %s", typ, a.tooLong, typ))
	}
	if code == http.StatusAccepted {
		return improper("the exchange answered 202 Accepted to a create of a " + typ + ": it may process it later, and ferry cannot follow that up")
	}
	if locationNames(resp.Header.Get("Location"), typ) {
		return nil
	}
	sc := &a.scan
	switch scanErr := sc.finish(); {
	case scanErr == nil && sc.resourceType == typ:
		return nil
	case scanErr != nil && len(bytes.TrimSpace(a.head)) == 0:
		return improper("the exchange answered a create of a " + typ + " with no body and no Location naming the " + typ + "; check exchange.url")
	case scanErr != nil:
		what := "a non-JSON answer"
		if mt := mediaType(ct); mt != "" {
			what = "a " + mt + " page"
		}
		return improper("the exchange answered a create of a " + typ + " with " + what + " and no Location naming it; a proxy, captive portal or web front end may stand in the way, or exchange.url is not the FHIR base")
	default:
		return improper(fmt.Sprintf("the exchange answered a create of a %s with a %s and no Location naming the %s", typ, nameOr(sc.resourceType, "JSON value without resourceType"), typ))
	}
}

// locationNames reports whether a Location header names a resource of
// type typ: [base/]typ/id[/_history/vid].
func locationNames(loc, typ string) bool {
	if loc == "" {
		return false
	}
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")
	if n := len(seg); n >= 4 && seg[n-2] == "_history" {
		seg = seg[:n-2]
	}
	n := len(seg)
	return n >= 2 && seg[n-2] == typ && seg[n-1] != ""
}

// entryRank orders the failures of a response Bundle's entries by which
// decides the bundle's fate: retryable, then rejected content, then a
// conflict (retried a few times).
func entryRank(se *StatusError) int {
	switch {
	case retryable(se.Code), se.transient:
		return 2
	case se.Code == http.StatusConflict:
		return 0
	}
	return 1
}

// transientIssues is FHIR R4's IssueType "transient" and the codes under
// it: "the system receiving the message may be able to resubmit the same
// content once an underlying issue is resolved".
var transientIssues = map[string]bool{
	"transient": true, "lock-error": true, "no-store": true, "exception": true,
	"timeout": true, "incomplete": true, "throttled": true,
}

// transientOutcome reports whether body is an OperationOutcome whose
// errors (severity error or fatal; at least one) are all transient
// (transientIssues): the server refused for its own state, not the
// content, and the same bundle may go through later. One content error
// among them makes it a rejection.
func transientOutcome(body []byte) bool {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity string `json:"severity"`
			Code     string `json:"code"`
		} `json:"issue"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return false
	}
	n := 0
	for _, is := range oo.Issue {
		if is.Severity != "error" && is.Severity != "fatal" {
			continue
		}
		if !transientIssues[is.Code] {
			return false
		}
		n++
	}
	return n > 0
}

func isJSONType(ct string) bool {
	mt := mediaType(ct)
	return mt == MediaType || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// nameOr returns s, a resource or Bundle type name from the answer, or
// alt when it is empty or not a plain name (it goes to logs: nothing the
// receiver wrote freely).
func nameOr(s, alt string) string {
	if s == "" {
		return alt
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return alt
		}
	}
	return s
}

func leadingInt(s string) int {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

func statusText(code int, status string) string {
	status = strings.TrimSpace(status)
	if status != "" && status != strconv.Itoa(code) {
		return status
	}
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

// matchedNothing reports whether outcome, an entry's OperationOutcome,
// says that its conditional request matched no resource. FHIR answers a
// conditional patch that matches nothing with 404 (R4 http.html#patch);
// Medplum's batch processor answers 400 "Conditional PATCH did not match
// any resources" instead, and for a supersede batch (missing_ok) that is
// the same news: the version to mark superseded never reached the
// exchange. Only that wording counts: any other 400 is a rejection.
func matchedNothing(outcome []byte) bool {
	for _, is := range issuesFrom(outcome, MediaType) {
		if strings.Contains(is.Text, "did not match any resources") {
			return true
		}
	}
	return false
}

// matchedSeveral reports whether body, an OperationOutcome refusing a
// transaction whole, says that a conditional entry matched several
// resources, and which entry (-1: not said). FHIR answers that with 412
// (R4 http.html, conditional update: "Multiple matches: The server
// returns a 412 Precondition Failed error"); Medplum refuses the whole
// transaction with 400 and "Conditional PUT matched multiple resources"
// (PATCH, DELETE), the entry in the issue's expression
// ("Bundle.entry[3].request.url").
func matchedSeveral(body []byte) (entry int, ok bool) {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return -1, false
	}
	for _, is := range oo.Issue {
		if !strings.Contains(is.Details.Text, "matched multiple resources") && !strings.Contains(is.Diagnostics, "matched multiple resources") {
			continue
		}
		return expressionEntry(is.Expression), true
	}
	return -1, false
}

// outcomeEntry is the transaction entry that body, an OperationOutcome
// refusing a transaction whole, names in its first issue that names one
// by its expression ("Bundle.entry[3].request.url"); -1 when none does.
func outcomeEntry(body []byte) int {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Expression []string `json:"expression"`
		} `json:"issue"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return -1
	}
	for _, is := range oo.Issue {
		if i := expressionEntry(is.Expression); i >= 0 {
			return i
		}
	}
	return -1
}

// expressionEntry is the entry index the first of an issue's expressions
// of the form Bundle.entry[i]... names, -1 when none does.
func expressionEntry(expression []string) int {
	for _, x := range expression {
		if rest, found := strings.CutPrefix(x, "Bundle.entry["); found {
			if n, _, found := strings.Cut(rest, "]"); found {
				if i, err := strconv.Atoi(n); err == nil && i >= 0 {
					return i
				}
			}
		}
	}
	return -1
}

// issuesFrom extracts OperationOutcome issues, or a one-line snippet of a
// non-FHIR body (an HTML error page from a proxy, say).
func issuesFrom(body []byte, contentType string) []Issue {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity    string `json:"severity"`
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text   string `json:"text"`
				Coding []struct {
					Code    string `json:"code"`
					Display string `json:"display"`
				} `json:"coding"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) == nil && oo.ResourceType == "OperationOutcome" {
		var out []Issue
		for _, is := range oo.Issue {
			text := is.Diagnostics
			if text == "" {
				text = is.Details.Text
			}
			if text == "" && len(is.Details.Coding) > 0 {
				text = is.Details.Coding[0].Display
				if text == "" {
					text = is.Details.Coding[0].Code
				}
			}
			out = append(out, Issue{Severity: is.Severity, Code: is.Code, Text: truncate(oneLine(text), maxIssueText)})
			if len(out) == 10 {
				break
			}
		}
		return out
	}
	snippet := string(body)
	if strings.Contains(contentType, "html") {
		snippet = stripTags(snippet)
	}
	return []Issue{{Text: truncate(oneLine(snippet), 200)}}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// stripTags returns the text of an HTML page: its tags taken out, and
// what a browser does not show as text with them: comments and the
// contents of its style and script elements (a proxy's page carries its
// style sheet and script before a word of what it says).
func stripTags(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			sb.WriteString(s)
			break
		}
		sb.WriteString(s[:i])
		sb.WriteByte(' ')
		s = s[i:]
		end := ">"
		switch {
		case strings.HasPrefix(s, "<!--"):
			end = "-->"
		case rawTextElement(s, "script"):
			end = "</script"
		case rawTextElement(s, "style"):
			end = "</style"
		}
		j := indexFold(s[1:], end)
		if j < 0 {
			break
		}
		s = s[1+j+len(end):]
		if end != ">" && end != "-->" {
			// The end tag's own rest: "</script >".
			if k := strings.IndexByte(s, '>'); k >= 0 {
				s = s[k+1:]
			} else {
				s = ""
			}
		}
	}
	return sb.String()
}

// rawTextElement reports whether s starts with the start tag of the
// element name, in any case.
func rawTextElement(s, name string) bool {
	if len(s) < len(name)+2 || !strings.EqualFold(s[1:1+len(name)], name) {
		return false
	}
	c := s[1+len(name)]
	return c == '>' || c == '/' || isSpace(c)
}

// indexFold is strings.Index of an ASCII sub, in any case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// hasRetryAfter reports whether v is a Retry-After value, delay-seconds
// or an HTTP-date (RFC 9110 §10.2.3), whatever time it names.
func hasRetryAfter(v string) bool {
	v = strings.TrimSpace(v)
	if v != "" && strings.Trim(v, "0123456789") == "" {
		return true
	}
	_, err := http.ParseTime(v)
	return err == nil
}

// answerTime is when resp was sent by the exchange's clock, its Date
// (RFC 9110 §6.6.1), or now when it has none: a Retry-After HTTP-date is
// a time on that clock, and the clinic computer's may be minutes off.
func answerTime(resp *http.Response) time.Time {
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). Missing, invalid or past values give zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && secs > 0 {
		// delay-seconds is 1*DIGIT, with no bound: one past int64 is
		// a delay longer than any other, not no delay.
		return transport.MaxRetryAfter
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(transport.MaxRetryAfter/time.Second) {
			return transport.MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, transport.MaxRetryAfter)
		}
	}
	return 0
}
