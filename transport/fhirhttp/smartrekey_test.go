package fhirhttp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestSMARTKeyReplacedOnDisk: a SMART key replaced at key_file (the
// contractor puts the key the exchange registered in place of a wrong
// one, or a key management tool rotates it there) signs the next token
// request without a restart, as a renewed UDAP key or TLS certificate
// does. The gateway read key_file once, when it connected, and signed
// with the key it held until restarted: the exchange, which knew only
// the new key, refused every assertion (invalid_client), the bundles
// waited with NEEDS AN OPERATOR pointing at key_file, which was right,
// and ferry doctor, reading the file anew, passed. A file that cannot be
// used as a SMART key leaves the loaded key in use.
func TestSMARTKeyReplacedOnDisk(t *testing.T) {
	old, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, old)
	ex := newExchange(t, false)
	tokenURL := strings.TrimSuffix(ex.url(), "/fhir/R4") + "/auth/token"

	var mu sync.Mutex
	registered := &old.PublicKey // the key the exchange knows
	valid := map[string]bool{}
	n := 0
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/R4/.well-known/smart-configuration":
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": tokenURL})
		case "/auth/token":
			ex.mu.Lock()
			form, _ := url.ParseQuery(ex.bodies[len(ex.bodies)-1])
			ex.mu.Unlock()
			tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES384})
			var c jwt.Claims
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = tok.Claims(registered, &c)
			}
			if err == nil {
				// The kid is the thumbprint of the key that signed.
				tp, _ := (&jose.JSONWebKey{Key: registered}).Thumbprint(crypto.SHA256)
				if kid := tok.Headers[0].KeyID; kid != base64.RawURLEncoding.EncodeToString(tp) {
					err = fmt.Errorf("kid %s", kid)
				}
			}
			if err != nil {
				oauthFail(w, "invalid_client")
				return
			}
			n++
			access := fmt.Sprint("tok-", n)
			valid[access] = true
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 300})
		default:
			mu.Lock()
			ok := valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			answerOK(200)(w, r)
		}
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
	if err := s.Send(context.Background(), item("01REKEY1")); err != nil {
		t.Fatalf("send with the first key: %v", err)
	}

	// The exchange now knows only the new key, and drops the tokens of
	// the old one; the new key is written over key_file.
	next, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	mu.Lock()
	registered = &next.PublicKey
	clear(valid)
	mu.Unlock()
	der, err := x509.MarshalPKCS8PrivateKey(next)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), item("01REKEY2")); err != nil {
		t.Fatalf("send after the key was replaced on disk: %v", err)
	}

	// A file that is no key (half written) keeps the loaded key.
	if err := os.WriteFile(path, []byte("-----BEGIN PRIV"), 0o600); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clear(valid)
	mu.Unlock()
	if err := s.Send(context.Background(), item("01REKEY3")); err != nil {
		t.Fatalf("send with key_file unreadable as a key: %v", err)
	}
}
