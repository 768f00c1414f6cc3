package fax

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
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
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ferry-health/ferry/config/configoauth"
)

// OAuth2Config is how a fax mailbox gets the access token it logs in
// with: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) at
// TokenURL, for an application registered with the mail provider (for
// Microsoft 365: an Entra ID app with the IMAP.AccessAsApp permission, the
// scope https://outlook.office365.com/.default, and the mailbox granted
// to its service principal).
type OAuth2Config struct {
	// Grant is client_credentials (the default: Microsoft 365) or
	// jwt_bearer (RFC 7523 §2.1: a Google Workspace service account with
	// domain-wide delegation, which signs a JWT for the mailbox's user
	// with ServiceAccountFile's key).
	Grant    string `yaml:"grant"`
	TokenURL string `yaml:"token_url"`
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client secret (its first line), read at
	// each token request; readable by the service account only.
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	// CAFile, when set, holds the PEM certificates that may sign the token
	// endpoint's chain (a private CA); empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// ClientCertFile and ClientKeyFile, in place of ClientSecretFile,
	// authenticate the client_credentials request with a certificate
	// (RFC 7523 §2.2 client assertion, RS256, x5t the certificate's
	// SHA-1 thumbprint), as Microsoft Entra ID takes and recommends over
	// secrets; the certificate is the one uploaded to the app.
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`
	// ServiceAccountFile is a Google service account's JSON key (its
	// client_email, private_key_id, private_key and token_uri), for the
	// jwt_bearer grant; token_url defaults to its token_uri.
	ServiceAccountFile string `yaml:"service_account_file"`
}

// OAuth 2.0 grants a fax mailbox can use (OAuth2Config.Grant).
const (
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "jwt_bearer"
)

func (o *OAuth2Config) validate() []error {
	var errs []error
	if o.TokenURL != "" || o.Grant != GrantJWTBearer {
		// The URL is named in every token error, logged at each failed
		// poll: a password in it (Go's client sends it as Basic
		// credentials) is refused, and an unparsable one, which may
		// hold one, is not quoted back.
		switch u, err := url.Parse(o.TokenURL); {
		case err != nil:
			errs = append(errs, errors.New("oauth2.token_url: want an https:// URL; this one does not parse"))
		case u.User != nil:
			errs = append(errs, errors.New("oauth2.token_url: must not contain credentials (user:password@): give the client secret in client_secret_file"))
		case u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("oauth2.token_url: want an https:// URL, got %q", o.TokenURL))
		}
	}
	switch o.Grant {
	case "", GrantClientCredentials:
		if o.ClientID == "" {
			errs = append(errs, errors.New("oauth2.client_id: required"))
		}
		switch {
		case o.ClientSecretFile == "" && o.ClientCertFile == "":
			errs = append(errs, errors.New("oauth2.client_secret_file: required (a file holding the client secret), or client_cert_file and client_key_file"))
		case o.ClientSecretFile != "" && o.ClientCertFile != "":
			errs = append(errs, errors.New("oauth2.client_cert_file: give client_secret_file or client_cert_file, not both"))
		case o.ClientCertFile != "" && o.ClientKeyFile == "":
			errs = append(errs, errors.New("oauth2.client_key_file: required with client_cert_file"))
		case o.ClientKeyFile != "" && o.ClientCertFile == "":
			errs = append(errs, errors.New("oauth2.client_cert_file: required with client_key_file (the certificate uploaded to the app)"))
		}
		if o.ServiceAccountFile != "" {
			errs = append(errs, errors.New("oauth2.service_account_file: only for grant jwt_bearer"))
		}
	case GrantJWTBearer:
		if o.ServiceAccountFile == "" {
			errs = append(errs, errors.New("oauth2.service_account_file: required for the jwt_bearer grant (the service account's JSON key)"))
		}
		if o.ClientSecretFile != "" || o.ClientID != "" || o.ClientCertFile != "" || o.ClientKeyFile != "" {
			errs = append(errs, errors.New("oauth2.grant: jwt_bearer signs with service_account_file; leave client_id, client_secret_file, client_cert_file and client_key_file out"))
		}
	default:
		errs = append(errs, fmt.Errorf("oauth2.grant: want %s or %s, got %q", GrantClientCredentials, GrantJWTBearer, o.Grant))
	}
	return errs
}

// login authenticates c: LOGIN with the password file, or AUTHENTICATE
// XOAUTH2 with an access token (asked for anew when the server refuses
// the one held).
func (m *Mailbox) login(ctx context.Context, c *imapclient.Client) error {
	if m.cfg.OAuth2 == nil {
		password, err := readPassword(m.cfg.PasswordFile)
		if err != nil {
			return err
		}
		if err := c.Login(m.cfg.Username, password).Wait(); err != nil {
			return fmt.Errorf("login as %s: %w", m.cfg.Username, err)
		}
		return nil
	}
	tok, err := m.token(ctx)
	if err != nil {
		return err
	}
	if err := c.Authenticate(xoauth2{user: m.cfg.Username, token: tok}); err != nil {
		m.tokMu.Lock()
		m.tok = "" // refused: the next login asks for a new one
		m.tokMu.Unlock()
		return fmt.Errorf("login as %s with an OAuth 2.0 token (XOAUTH2): %w", m.cfg.Username, err)
	}
	return nil
}

// token returns the access token held, or asks the token endpoint for one
// when there is none or it ends within a minute.
func (m *Mailbox) token(ctx context.Context) (string, error) {
	m.tokMu.Lock()
	defer m.tokMu.Unlock()
	if m.tok != "" && time.Until(m.tokExp) > time.Minute {
		return m.tok, nil
	}
	o := m.cfg.OAuth2
	tokenURL := o.TokenURL
	var form url.Values
	if o.Grant == GrantJWTBearer {
		sa, err := readServiceAccount(o.ServiceAccountFile)
		if err != nil {
			return "", err
		}
		if tokenURL == "" {
			// The key file's token_uri gets the signed assertion: only
			// over TLS, as token_url (validate).
			if u, err := url.Parse(sa.TokenURI); err != nil || u.Scheme != "https" || u.Host == "" {
				return "", fmt.Errorf("oauth2.service_account_file %s: token_uri: want an https:// URL (or set oauth2.token_url), got %q", o.ServiceAccountFile, sa.TokenURI)
			}
			tokenURL = sa.TokenURI
		}
		assertion, err := sa.assertion(m.cfg.Username, tokenURL, o.Scopes, time.Now())
		if err != nil {
			return "", fmt.Errorf("oauth2.service_account_file: %w", err)
		}
		form = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	} else {
		form = url.Values{"grant_type": {"client_credentials"}, "client_id": {o.ClientID}}
		if o.ClientCertFile != "" {
			a, err := clientAssertion(o.ClientCertFile, o.ClientKeyFile, o.ClientID, tokenURL, time.Now())
			if err != nil {
				return "", fmt.Errorf("oauth2.client_cert_file: %w", err)
			}
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", a)
		} else {
			secret, err := readPassword(o.ClientSecretFile)
			if err != nil {
				return "", fmt.Errorf("oauth2.client_secret_file: %w", err)
			}
			form.Set("client_secret", secret)
		}
		if len(o.Scopes) > 0 {
			form.Set("scope", strings.Join(o.Scopes, " "))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("oauth2 token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := m.cfg.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("oauth2 token from %s: %w", tokenURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var t struct {
		AccessToken string                `json:"access_token"`
		ExpiresIn   configoauth.ExpiresIn `json:"expires_in"`
		Error       string                `json:"error"`
		Description string                `json:"error_description"`
	}
	_ = json.Unmarshal(body, &t)
	if resp.StatusCode != http.StatusOK || t.AccessToken == "" {
		// The error and its description name no secret (RFC 6749 §5.2).
		return "", fmt.Errorf("oauth2 token from %s: %s %s %s", tokenURL, resp.Status, t.Error, firstLine(t.Description))
	}
	if t.ExpiresIn <= 0 {
		t.ExpiresIn = 3600
	}
	m.tok, m.tokExp = t.AccessToken, time.Now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return m.tok, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// xoauth2 is the SASL XOAUTH2 mechanism (Google's and Microsoft's): the
// user and the bearer token in one initial response.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an
// empty response, after which the server fails the AUTHENTICATE.
func (x xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// serviceAccount is the part of a Google service account's JSON key the
// jwt_bearer grant uses.
type serviceAccount struct {
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

func readServiceAccount(path string) (*serviceAccount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("oauth2.service_account_file: %w", err)
	}
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		// The JSON error may quote the key: only its place is told.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("oauth2.service_account_file %s: not JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("oauth2.service_account_file %s: not a service account key", path)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, fmt.Errorf("oauth2.service_account_file %s: no client_email or private_key", path)
	}
	return &sa, nil
}

// assertion is the JWT (RS256) the service account signs to act as user:
// iss its client_email, sub the mailbox's user, aud the token endpoint,
// scope the scopes, valid for an hour (Google's most).
func (sa *serviceAccount) assertion(user, aud string, scopes []string, now time.Time) (string, error) {
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return "", errors.New("private_key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("private_key: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("private_key is not an RSA key")
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if sa.PrivateKeyID != "" {
		opts = opts.WithHeader("kid", sa.PrivateKeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, opts)
	if err != nil {
		return "", err
	}
	claims := struct {
		jwt.Claims
		Scope string `json:"scope,omitempty"`
	}{
		Claims: jwt.Claims{
			Issuer: sa.ClientEmail, Subject: user, Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		Scope: strings.Join(scopes, " "),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// clientAssertion is the JWT (RS256) that authenticates a client with a
// certificate (RFC 7523 §2.2): iss and sub the client id, aud the token
// endpoint, a fresh jti, ten minutes of life, and the certificate's SHA-1
// thumbprint in x5t, by which Entra ID finds the certificate uploaded to
// the app.
func clientAssertion(certFile, keyFile, clientID, aud string, now time.Time) (string, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return "", err
	}
	rsaKey, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("the key is not an RSA key (Entra ID certificates are RSA)")
	}
	thumb := sha1.Sum(pair.Certificate[0])
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", base64.RawURLEncoding.EncodeToString(thumb[:]))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, opts)
	if err != nil {
		return "", err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud}, ID: hex.EncodeToString(id[:]),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(10 * time.Minute)),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
