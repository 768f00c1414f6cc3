package fhirhttp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/config/configoauth"
	"github.com/ferry-health/ferry/config/configtls"
)

// tokenSource gives the Bearer token sent with each request. SMART Backend
// Services (smart.go) and UDAP (udap.go) differ in how they earn a token,
// not in how the sink uses it, so Send sees only this.
type tokenSource interface {
	// Token returns a valid access token, fetching one when needed.
	Token(ctx context.Context) (string, error)
	// Invalidate drops tok if it is still the cached token (the exchange
	// answered 401 to it).
	Invalidate(tok string)
}

// tokenCache keeps one access token until tokenSkew before it expires and
// calls fetch for a new one. One fetch runs at a time, and the senders
// that need a token while it runs wait for it and share its outcome, a
// failure included: a token endpoint that is slow or down gets one
// request, not one per waiting delivery, each after the one before failed
// (which, with a token endpoint that does not answer, made the last of N
// senders wait N times the request timeout). A waiter gives up when its
// own context ends. Since fetches never overlap, and each is handed over
// through mu, the fetcher's own lazily filled state (a discovered
// endpoint, a registration) needs no other lock.
type tokenCache struct {
	fetch func(ctx context.Context) (token string, life time.Duration, err error)

	mu      sync.Mutex
	token   string
	expires time.Time
	flight  *tokenFlight // the fetch in progress; nil when none
}

// tokenFlight is one fetch's outcome, for the senders waiting on it;
// token and err are set before done is closed.
type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
	// cancelled says the fetch failed because its sender's context
	// ended (a shutdown, that sender's deadline), which says nothing
	// to a waiter whose context has not.
	cancelled bool
}

// tokenSkew is how long before its expiry a token is replaced, so that no
// request leaves with a token that dies on the way.
const tokenSkew = 30 * time.Second

// Token returns a valid access token, fetching one when there is none or
// it is about to expire, or waiting for the fetch another sender started.
func (c *tokenCache) Token(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if c.token != "" && time.Now().Before(c.expires) {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", fmt.Errorf("wait for an access token: %w", context.Cause(ctx))
			}
			if f.err != nil && f.cancelled && ctx.Err() == nil {
				continue // its sender gave up, not the token endpoint
			}
			return f.token, f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		c.flight = f
		c.mu.Unlock()
		return c.fly(ctx, f)
	}
}

// fly runs fetch for flight f and hands its outcome to the cache and to
// f's waiters, even if fetch panics.
func (c *tokenCache) fly(ctx context.Context, f *tokenFlight) (tok string, err error) {
	returned := false
	defer func() {
		f.token, f.err, f.cancelled = tok, err, err != nil && ctx.Err() != nil
		if !returned {
			f.err = errors.New("access token fetch failed")
		}
		c.mu.Lock()
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	// expires_in counts from when the server issued the token (RFC
	// 6749 §5.1), before its answer got here: count from before asking,
	// so that a slow answer does not eat into tokenSkew.
	asked := time.Now()
	tok, life, err := c.fetch(ctx)
	returned = true
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.token, c.expires = tok, asked.Add(life-tokenSkew)
	c.mu.Unlock()
	return tok, nil
}

// Invalidate drops the cached token (after the exchange answered 401).
func (c *tokenCache) Invalidate(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

// tokenRequest describes one client_credentials token request for
// requestToken: who asks (for messages) and what to check when the
// authorization server refuses.
type tokenRequest struct {
	what  string // "SMART", "UDAP": names the protocol in messages
	url   string
	form  url.Values
	field string // the settings' block: exchange.auth.smart, exchange.auth.udap
	// source names where url comes from, for when it is not a token
	// endpoint: the setting, or the document the exchange names it in.
	source string
	check  string // what the operator should check when the assertion is refused
}

// serverBusy reports whether an authorization server's (or its
// discovery document's) answer says it is busy or down for now: 5xx,
// 408, 425 and 429, as the exchange's own answers count them (RFC 9110
// §15.5.9, 408: the client "MAY repeat that request"). That is an outage,
// retried, not a setting for an operator to fix.
func serverBusy(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}

// requestToken POSTs a token request and reads the answer. 5xx, 408, 425
// and 429, and an error answer with the code temporarily_unavailable or
// server_error, are a *StatusError (the authorization server is busy or
// down: retried like the exchange itself); any other refusal is an *EndpointError, since it
// says ferry's registration, key or certificate is wrong, which no bundle
// can fix: retried and shown to the operator, never a dead letter. A
// Retry-After date is read on the server's clock (answerTime), not on
// this computer's, which may be minutes off. scope is what the server
// granted: the answer's scope, or, when it names
// none, the scope asked for (RFC 6749 §5.1).
func requestToken(ctx context.Context, client *http.Client, tr tokenRequest) (token string, life time.Duration, scope string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tr.url, strings.NewReader(tr.form.Encode()))
	if err != nil {
		return "", 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, "", fmt.Errorf("%s token request to %s: %w", tr.what, tr.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans struct {
		AccessToken string                `json:"access_token"`
		TokenType   string                `json:"token_type"`
		ExpiresIn   configoauth.ExpiresIn `json:"expires_in"`
		Scope       string                `json:"scope"`
	}
	_ = json.Unmarshal(body, &ans)
	switch code := oauthErrorCode(body); {
	case serverBusy(resp.StatusCode):
		return "", 0, "", &StatusError{Code: resp.StatusCode, Status: statusText(resp.StatusCode, resp.Status), Entry: -1,
			Wait: parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp)), Server: tr.what + " token endpoint " + tr.url}
	case resp.StatusCode != http.StatusOK && (code == "temporarily_unavailable" || code == "server_error"):
		// The server says by its error code, with 400 as RFC 6749
		// §5.2 has errors answered, that it is overloaded or down for
		// maintenance (§4.1.2.1: "The authorization server is
		// currently unable to handle the request due to a temporary
		// overloading or maintenance of the server"), or failed
		// itself: busy, as a 503 is, not a refusal of ferry's
		// assertion.
		return "", 0, "", &StatusError{Code: resp.StatusCode, Status: statusText(resp.StatusCode, resp.Status) + ", " + code, Entry: -1, transient: true,
			Wait: parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp)), Server: tr.what + " token endpoint " + tr.url}
	case resp.StatusCode != http.StatusOK:
		if !isOAuthError(body) && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
			return "", 0, "", &EndpointError{Problem: notOAuthEndpoint(tr.what, "token", tr.url, tr.source, resp), Err: errors.New(tr.what + " token request: " + resp.Status)}
		}
		return "", 0, "", &EndpointError{Problem: tr.refusal(body, resp.Status) + clockHint(resp.Header, time.Now(), "the "+tr.what+" token endpoint", "client assertion"),
			Err: errors.New(tr.what + " token request: " + resp.Status)}
	case ans.AccessToken == "" || !strings.EqualFold(ans.TokenType, "bearer"):
		return "", 0, "", &EndpointError{Problem: fmt.Sprintf("the %s token endpoint %s answered no bearer access_token", tr.what, tr.url), Err: errors.New("no access token")}
	case !scopeAllowsWrites(ans.Scope):
		// Every bundle would be refused with 403, and each such refusal
		// taken for the bundle's fault: say what is wrong instead, and
		// let the bundles wait.
		return "", 0, "", &EndpointError{Problem: fmt.Sprintf("the %s token endpoint %s granted scope %q, which allows no create or update, and ferry writes bundles; ask the exchange to grant system/*.crus (SMART v2) or system/*.write (v1) to ferry's client", tr.what, tr.url, truncate(ans.Scope, 200)),
			Err: errors.New("token grants no write scope")}
	}
	life = time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute // SMART: tokens SHOULD last no more than 300 s
	}
	if life <= tokenSkew {
		life = tokenSkew + time.Second // use it at least for a second
	}
	scope = ans.Scope
	if scope == "" {
		scope = tr.form.Get("scope")
	}
	return ans.AccessToken, life, scope, nil
}

// TokenRefusedError is CheckSMART's and CheckUDAP's error when the token
// endpoint granted an access token that the exchange's FHIR server
// refused (tryToken).
type TokenRefusedError struct{ Problem string }

func (e *TokenRefusedError) Error() string { return e.Problem }

// tryToken asks the FHIR server at base something that needs the access
// token tok and changes nothing, for `ferry doctor`: a search for a
// Patient by an id no server holds, answered with a count only
// (_summary=count), so that no patient's data comes back. A token
// endpoint granting a token says nothing of whether the FHIR server takes
// it (a token_url naming another tenant's or the test system's server, a
// client given no access to this FHIR server), and a 401 says it does
// not, as it would refuse every delivery: a *TokenRefusedError; so does
// a 403 whose Bearer challenge says invalid_token, which Send takes for
// the 401 it stands for (tokenRefused). Any other answer, a 403 for a
// scope that may not search (RFC 6750 §3.1, insufficient_scope)
// included, is the server's judgement of a token it took, and a failed
// connection is the exchange check's to report: nil.
func tryToken(ctx context.Context, client *http.Client, base, tok string) error {
	id := make([]byte, 12)
	rand.Read(id)
	u := strings.TrimSuffix(base, "/") + "/Patient?_id=ferry-doctor-" + hex.EncodeToString(id) + "&_summary=count"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Accept", MediaType)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	code := bearerError(resp.Header)
	if resp.StatusCode != http.StatusUnauthorized && !tokenRefused(resp, true) || code == "insufficient_scope" {
		return nil
	}
	why := resp.Status
	if code == "invalid_token" || code == "invalid_request" {
		why += ", " + code
	}
	return &TokenRefusedError{Problem: fmt.Sprintf("the exchange's FHIR server refused ferry's access token (%s) at a search that changes nothing (GET %s/Patient?_id=...&_summary=count), as it would refuse every delivery; check that the token endpoint is the one this exchange takes tokens from, ferry's client registration there (the FHIR base its tokens are for) and ferry's access at the exchange",
		why, strings.TrimSuffix(base, "/"))}
}

// isOAuthError reports whether body is an OAuth error answer (RFC 6749
// §5.2): a JSON object with an "error" code.
func isOAuthError(body []byte) bool { return oauthErrorCode(body) != "" }

// oauthErrorCode is the "error" code of an OAuth error answer (RFC 6749
// §5.2), "" when body is none.
func oauthErrorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// notOAuthEndpoint says that u, ferry's what ("SMART", "UDAP") kind
// ("token", "registration") endpoint, answered resp, neither a success
// nor an OAuth error: an authorization server refuses a token request
// "with an HTTP 400 (Bad Request) status code" or, for a client it
// cannot authenticate, 401, and an "error" code in JSON (RFC 6749 §5.2),
// and a registration endpoint with 400 and one (RFC 7591 §3.2.2). A 404,
// a 405, a redirect or a 403 page without one is a web server, a proxy
// or a firewall answering at a URL that is not (or no longer) that
// endpoint, whatever the JWT ferry sent says. source names where u
// comes from.
func notOAuthEndpoint(what, kind, u, source string, resp *http.Response) string {
	status := resp.Status
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		status += " (to " + truncate(oneLine(loc), 200) + ")"
	}
	return fmt.Sprintf("the %s %s URL %s answered %s with no OAuth error code, not as an OAuth %s endpoint answers: the URL is not the %s endpoint, or a web server, proxy or firewall answers for it; check %s",
		what, kind, u, status, kind, kind, source)
}

// refusal says what the token endpoint's refusal asks the operator to
// fix, by its OAuth error code (RFC 6749 §5.2): the scope asked for
// (invalid_scope), the grant the client may use (unauthorized_client,
// unsupported_grant_type), or else the client assertion (invalid_client,
// invalid_grant: its client id, key or certificate).
func (tr tokenRequest) refusal(body []byte, status string) string {
	why := oauthError(body, status)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	switch e.Error {
	case "invalid_scope":
		return fmt.Sprintf("the %s token endpoint %s refused the scope ferry asked for, %q (%s); set %s.scope to what the exchange grants ferry's client (a server that takes only SMART v1 scopes wants system/*.read system/*.write)",
			tr.what, tr.url, truncate(tr.form.Get("scope"), 200), why, tr.field)
	case "unauthorized_client", "unsupported_grant_type":
		return fmt.Sprintf("the %s token endpoint %s does not let ferry's client use the client_credentials grant (%s); ask the exchange to allow it for ferry's client",
			tr.what, tr.url, why)
	}
	return fmt.Sprintf("the %s token endpoint %s refused ferry's client assertion (%s); %s", tr.what, tr.url, why, tr.check)
}

// clockHintSkew is how far ferry's clock may differ from an
// authorization server's before a refusal names the clocks: servers
// allow from none to a few minutes of skew in the iat and exp ferry
// signs, and the Date header is precise to a second.
const clockHintSkew = 30 * time.Second

// clockHint says, for a refused JWT (a client assertion, a software
// statement), by how much ferry's clock differs from that of the server
// that refused it, when by more than clockHintSkew, and to set it right;
// else "". The server's time is its Date header (RFC 9110 §6.6.1: an
// origin server with a clock sends it), read at received. A server reads
// the JWT's iat and exp by its own clock, so one some minutes off from
// ferry's refuses every JWT, however right the key and client id are.
func clockHint(h http.Header, received time.Time, server, jwt string) string {
	skew, where, ok := clockOff(h, received)
	if !ok {
		return ""
	}
	return fmt.Sprintf("; ferry's clock is %s %s that of %s (its Date header), which reads the %s's iat and exp by its own: set this computer's clock right (NTP; on Windows the Windows Time service)",
		skew, where, server, jwt)
}

// clockOff is how far ferry's clock, read as the answer h was received,
// is from its server's (its Date header), and which way ("behind",
// "ahead of"); ok only when that is more than clockHintSkew.
func clockOff(h http.Header, received time.Time) (skew time.Duration, where string, ok bool) {
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0, "", false
	}
	skew, where = d.Sub(received.Truncate(time.Second)), "behind"
	if skew < 0 {
		skew, where = -skew, "ahead of"
	}
	return skew.Round(time.Second), where, skew > clockHintSkew
}

// scopeAllowsWrites reports whether a granted scope string lets ferry
// create or update resources. Only SMART resource scopes are judged
// ("system/Observation.rs", "system/*.cruds", v1 "system/*.write" or
// ".*"): a scope string without any (absent, or an exchange's own names)
// says nothing, and is taken as allowing.
func scopeAllowsWrites(scope string) bool {
	judged := false
	for _, sc := range strings.Fields(scope) {
		ctx, rest, ok := strings.Cut(sc, "/")
		if !ok || ctx != "system" && ctx != "user" && ctx != "patient" {
			continue
		}
		_, perm, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		perm, _, _ = strings.Cut(perm, "?") // v2 scopes may carry a search
		judged = true
		switch {
		case perm == "write" || perm == "*":
			return true
		case perm != "read" && strings.Trim(perm, "cruds") == "" && strings.ContainsAny(perm, "cu"):
			return true
		}
	}
	return !judged
}

// oauthError is an OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2) in
// one short line: "error: description", or the HTTP status without one.
func oauthError(body []byte, status string) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	why := e.Error
	if e.Description != "" {
		why += ": " + oneLine(truncate(e.Description, 200))
	}
	if why == "" {
		why = status
	}
	return why
}

// readPrivateKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC).
// Like the TLS keys, a file other accounts can read is refused.
func readPrivateKey(path string) (crypto.Signer, error) {
	if err := configtls.KeyFileMode(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Behind a UTF-8 byte-order mark (a Windows editor's "UTF-8 with
	// BOM"), pem.Decode would not see the first block.
	b = configtls.TrimBOM(b)
	// The key is looked for among the file's blocks, as the TLS key_file
	// is (tls.X509KeyPair): `openssl ecparam -genkey` writes an EC
	// PARAMETERS block before it, and a file may hold the certificate
	// too.
	var blk *pem.Block
	for rest := b; ; {
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM private key block", path)
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("%s: the key is protected by a passphrase; ferry needs an unencrypted key readable only by its service account", path)
		}
		if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			break
		}
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key cannot sign", path, key)
	}
	return s, nil
}
