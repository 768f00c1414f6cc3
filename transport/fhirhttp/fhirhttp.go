// Package fhirhttp is the Sink that delivers queued FHIR transaction Bundles
// to an exchange over HTTPS with mutual TLS: one POST of the Bundle to the
// FHIR base URL per item (FHIR R4 http.html#transaction; IHE MHD ITI-65 uses
// the same interaction).
//
// Every outcome is classified so that nothing is dropped (ARCHITECTURE.md
// invariant 2):
//
//	2xx (and every transaction-response entry 2xx) → delivered
//	network error, 408, 429, 5xx except 501        → retry (Retry-After honoured)
//	TLS certificate/handshake failure              → retry, as a *configtls.HandshakeError
//	3xx, 401, 407                                  → retry (configuration, not content)
//	other 4xx, 501                                 → queue.Permanent, with the OperationOutcome text
//
// A permanent *StatusError also carries the receiver's whole answer (its
// OperationOutcome, up to queue.MaxOutcomeBytes) through queue.Outcomer,
// so the dead letter keeps it; its Error text keeps only a short extract.
//
// A certificate problem is never permanent: an expired certificate must
// pause delivery, not dead-letter every item. 401 and 407 are treated the
// same way because with mutual TLS they mean ferry's credentials are wrong,
// which no message can fix; the retry policy follows go-retryablehttp
// (429 and 5xx except 501) and the OTel OTLP/HTTP exporter.
package fhirhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// maxIssueText bounds the receiver text kept in an error.
	maxIssueText = 300
	maxErrorText = 1000
)

// Config configures the sink.
type Config struct {
	// URL is the FHIR base ([base]) the transaction is POSTed to. It must
	// be https, except for loopback hosts (demo, tests).
	URL string `yaml:"url" json:"url"`
	// Timeout bounds one request including reading the response.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// TLS is the client TLS configuration (CA, client certificate).
	TLS configtls.ClientConfig `yaml:"tls" json:"tls"`
	// MaxIdleConnsPerHost is the keep-alive pool size; set it to at least
	// the dispatcher's worker count.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host" json:"max_idle_conns_per_host"`
	// UserAgent is sent as User-Agent; empty means "ferry".
	UserAgent string `yaml:"-" json:"-"`
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
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tls.%w", err))
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
	endpoint string
	host     string

	mu        sync.RWMutex
	client    *http.Client
	stream    *http.Client // no overall timeout: for bodies streamed from files
	transport *http.Transport
}

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
	tlsCfg, err := s.cfg.TLS.LoadTLSConfig()
	if err != nil {
		return fmt.Errorf("connect to exchange: %w", err)
	}
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * s.cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   s.cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
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
	s.client, s.stream, s.transport = nil, nil, nil
	return nil
}

// Send POSTs the item's body (a transaction Bundle, from it.Body or
// streamed from it.Open) and classifies the outcome; see the package
// documentation.
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	s.mu.RLock()
	client, stream := s.client, s.stream
	s.mu.RUnlock()
	if client == nil {
		return transport.ErrNotConnected
	}
	var wd *watchdog
	if it.Open != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		wd = newWatchdog(s.cfg.Timeout, cancel)
		defer wd.stop()
		client = stream
	}
	req, err := newRequest(ctx, s.endpoint, it, wd)
	if err != nil {
		return fmt.Errorf("post bundle %s: %w", it.ID, err)
	}
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Accept", MediaType)
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
		if hs := configtls.Diagnose(err); hs != nil {
			return fmt.Errorf("post bundle %s to %s: %w", it.ID, s.host, hs)
		}
		return fmt.Errorf("post bundle %s to %s: %w", it.ID, s.host, err)
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes)) // let keep-alive reuse the connection
	resp.Body.Close()
	if err := classify(resp, body); err != nil {
		return fmt.Errorf("post bundle %s to %s: %w", it.ID, s.host, err)
	}
	if rerr != nil {
		// The exchange answered 2xx and we failed reading the rest of the
		// body: the transaction is committed there; re-sending would be
		// harmless too, but there is no reason to.
		s.log.Debug("reading response body failed after success", "item", it.ID, "error", rerr)
	}
	return nil
}

// newRequest builds the POST. A body held in a file (it.Open) is streamed
// from it with its length known up front, and GetBody reopens it so that
// the transport can send it again (a connection reused after the server
// closed it, an HTTP/2 GOAWAY) without the body ever being in memory;
// wd, when set, watches the reads.
func newRequest(ctx context.Context, endpoint string, it *queue.Item, wd *watchdog) (*http.Request, error) {
	if it.Open == nil {
		return http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(it.Body))
	}
	open := func() (io.ReadCloser, error) {
		rc, err := it.Open()
		if err != nil || wd == nil {
			return rc, err
		}
		return progressBody{rc, wd}, nil
	}
	body, err := open()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		body.Close()
		return nil, err
	}
	req.ContentLength = it.Size
	req.GetBody = open
	if it.Size == 0 {
		body.Close()
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return req, nil
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
		cancel(fmt.Errorf("no progress for %s", timeout))
	})
	return w
}

func (w *watchdog) progress() { w.timer.Reset(w.timeout) }
func (w *watchdog) sent()     { w.timer.Reset(w.timeout + time.Since(w.start)) }
func (w *watchdog) stop()     { w.timer.Stop() }

// progressBody reports the reads of a request body to its watchdog.
type progressBody struct {
	io.ReadCloser
	wd *watchdog
}

func (b progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.wd.sent()
	case n > 0:
		b.wd.progress()
	}
	return n, err
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
	// Entry is the index of the failing transaction-response entry, or -1
	// when the request itself failed.
	Entry int
	// Issues are the receiver's OperationOutcome issues (or a snippet of a
	// non-FHIR body), truncated.
	Issues []Issue
	// Wait is the receiver's Retry-After, zero when absent.
	Wait time.Duration
	// Location is the redirect target for 3xx answers.
	Location string
	// Body is the receiver's answer as received, for a permanent failure
	// only: the response body, or for a failed transaction-response entry
	// that entry's outcome; cut to queue.MaxOutcomeBytes (BodyTruncated).
	// It may quote patient data: it goes to the dead letter, never to a
	// log (Error and Summary leave it out).
	Body          []byte
	BodyTruncated bool
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
	return truncate(sb.String(), maxErrorText)
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
	return s
}

// RetryAfter is the receiver's requested delay (transport.RetryAfterOf).
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Retryable reports whether the status is worth retrying.
func (e *StatusError) Retryable() bool { return retryable(e.Code) }

func retryable(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
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

// classify turns a response into nil (delivered), a retryable
// *StatusError, or queue.Permanent(*StatusError).
func classify(resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return classifyTransactionResponse(body)
	}
	se := &StatusError{
		Code:     resp.StatusCode,
		Status:   statusText(resp.StatusCode, resp.Status),
		Entry:    -1,
		Issues:   issuesFrom(body, resp.Header.Get("Content-Type")),
		Location: resp.Header.Get("Location"),
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		se.Location = ""
	}
	if retryable(resp.StatusCode) {
		se.Wait = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return se
	}
	se.keepBody(body, len(body) >= maxResponseBytes)
	return queue.Permanent(se)
}

// classifyTransactionResponse checks each entry of a transaction-response
// or batch-response: a server may answer 200 for the request while an
// entry failed (batches do; a transaction should not, but we do not rely
// on it). Bodies that are not such a Bundle are accepted as delivered.
func classifyTransactionResponse(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response *struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &b) != nil || b.ResourceType != "Bundle" {
		return nil
	}
	if b.Type != "transaction-response" && b.Type != "batch-response" {
		return nil
	}
	var worst *StatusError
	for i, e := range b.Entry {
		if e.Response == nil {
			continue
		}
		code := leadingInt(e.Response.Status)
		if code == 0 || (code >= 200 && code < 300) {
			continue
		}
		se := &StatusError{Code: code, Status: statusText(code, e.Response.Status), Entry: i, Issues: issuesFrom(e.Response.Outcome, MediaType)}
		if !retryable(code) {
			se.keepBody(e.Response.Outcome, false)
		}
		// A retryable entry failure wins: retrying the whole (idempotent)
		// bundle may succeed, dead-lettering it would lose the other entries.
		if worst == nil || (retryable(code) && !retryable(worst.Code)) {
			worst = se
		}
	}
	if worst == nil {
		return nil
	}
	if retryable(worst.Code) {
		return worst
	}
	return queue.Permanent(worst)
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

func stripTags(s string) string {
	var sb strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			sb.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). Missing, invalid or past values give zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
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
