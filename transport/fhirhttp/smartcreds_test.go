package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
)

// TestSMARTURLCredentialsRefused: a token_url or jwks_url with
// credentials in it (https://user:password@host/...) was taken: Go's
// client sent the token endpoint the password as Basic authentication
// beside the client assertion (RFC 6749 §2.3: a client "MUST NOT use
// more than one authentication method in each request"), the jwks_url
// went to the server in every assertion's jku header, and every
// refusal and outage printed the URL, password and all, into the log
// and the status page. As exchange.url, they are refused, and the
// refusal does not repeat the password.
func TestSMARTURLCredentialsRefused(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	ex := newExchange(t, false)
	root := strings.TrimSuffix(ex.url(), "/fhir/R4")
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			oauthFail(w, "invalid_client")
			return
		}
		answerOK(200)(w, r)
	})
	withPassword := strings.Replace(root, "https://", "https://ferry:s3cret@", 1)
	for _, tc := range []struct {
		name        string
		cfg         SMARTConfig
		field, want string
	}{
		{"token_url", SMARTConfig{ClientID: "ferry-1", KeyFile: path, TokenURL: withPassword + "/auth/token"}, "token_url", "credentials"},
		{"token_url, bad port", SMARTConfig{ClientID: "ferry-1", KeyFile: path, TokenURL: "https://ferry:s3cret@localhost:port/auth/token"}, "token_url", "not a URL"},
		{"jwks_url", SMARTConfig{ClientID: "ferry-1", KeyFile: path, TokenURL: root + "/auth/token", JWKSURL: "https://ferry:s3cret@keys.example.org/jwks.json"}, "jwks_url", "credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: tc.cfg}, nil)
			if err == nil {
				if err = s.Connect(context.Background()); err == nil {
					err = s.Send(context.Background(), item("01CREDS"))
				}
				s.Close(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %s refused (%s)", err, tc.field, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%q repeats the password", err)
			}
		})
	}
}
