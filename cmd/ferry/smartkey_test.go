package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// TestSMARTKeyCommand: `ferry smart-key PATH` writes a P-384 key owner-only
// and prints its public JWKS with the thumbprint as kid; run again, it
// keeps the key and prints the same JWKS.
func TestSMARTKeyCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smart.key")
	var out1, out2 bytes.Buffer
	if err := cmdSMARTKey(context.Background(), []string{path}, &out1, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 { // Windows has only the read-only bit
		t.Fatalf("key file %v %v", st, err)
	}
	if err := cmdSMARTKey(context.Background(), []string{path}, &out2, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out1.String() != out2.String() {
		t.Errorf("second run printed another JWKS:\n%s\n%s", out1.String(), out2.String())
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(out1.Bytes(), &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", out1.String(), err)
	}
	k, err := fhirhttp.LoadSMARTKey(path)
	if err != nil {
		t.Fatal(err)
	}
	j := jwks.Keys[0]
	if j["kty"] != "EC" || j["crv"] != "P-384" || j["alg"] != "ES384" || j["kid"] != k.KeyID || j["d"] != nil {
		t.Errorf("JWKS key %v (kid want %s)", j, k.KeyID)
	}
}

// TestSMARTKeyRotation: `ferry smart-key NEW --also OLD` prints one JWKS
// with the new public key first and the old one after it, each under its
// thumbprint; the same key twice is refused.
func TestSMARTKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	if err := cmdSMARTKey(context.Background(), []string{oldKey}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out, advice bytes.Buffer
	if err := cmdSMARTKey(context.Background(), []string{newKey, "--also", oldKey}, &out, &advice); err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &jwks); err != nil || len(jwks.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", out.String(), err)
	}
	o, _ := fhirhttp.LoadSMARTKey(oldKey)
	n, _ := fhirhttp.LoadSMARTKey(newKey)
	if jwks.Keys[0]["kid"] != n.KeyID || jwks.Keys[1]["kid"] != o.KeyID || jwks.Keys[0]["d"] != nil || jwks.Keys[1]["d"] != nil {
		t.Errorf("JWKS keys %v, want new %s then old %s, public only", jwks.Keys, n.KeyID, o.KeyID)
	}
	if !bytes.Contains(advice.Bytes(), []byte("key_file at")) {
		t.Errorf("advice:\n%s", advice.String())
	}
	if err := cmdSMARTKey(context.Background(), []string{newKey, "--also", newKey}, io.Discard, io.Discard); err == nil {
		t.Error("--also with the same key was accepted")
	}
}

// TestSMARTKeyIDAdvice: with --kid, the JWKS registers the key under that
// id, and the configuration `ferry smart-key` prints to go with it makes
// the gateway send it: the gateway sends the key's thumbprint unless
// exchange.auth.smart.key_id says otherwise, and the exchange finds the
// key by kid, so the printed {client_id, key_file} alone had every token
// request refused. A rotation with --kid says to set key_id too.
func TestSMARTKeyIDAdvice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smart.key")
	var out, advice bytes.Buffer
	if err := cmdSMARTKey(context.Background(), []string{"--kid", "clinic-12-2026", path}, &out, &advice); err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != "clinic-12-2026" {
		t.Fatalf("JWKS %s: %v", out.String(), err)
	}
	// The configuration as printed, read as ferry reads it.
	_, snippet, ok := strings.Cut(advice.String(), "then:\n")
	if !ok {
		t.Fatalf("advice:\n%s", advice.String())
	}
	var cfg struct {
		Exchange struct {
			Auth struct {
				SMART fhirhttp.SMARTConfig `yaml:"smart"`
			} `yaml:"auth"`
		} `yaml:"exchange"`
	}
	if err := yaml.Unmarshal([]byte(snippet), &cfg); err != nil {
		t.Fatalf("advice %q: %v", snippet, err)
	}
	smart := cfg.Exchange.Auth.SMART
	k, err := fhirhttp.LoadSMARTKey(smart.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sent := smart.KeyID
	if sent == "" {
		sent = k.KeyID
	}
	if sent != "clinic-12-2026" {
		t.Errorf("the printed configuration %q sends kid %q, the JWKS registers %q", snippet, sent, "clinic-12-2026")
	}

	advice.Reset()
	newKey := filepath.Join(dir, "smart-2027.key")
	if err := cmdSMARTKey(context.Background(), []string{"--kid", "clinic-12-2027", newKey, "--also", path}, io.Discard, &advice); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(advice.String(), "key_id at clinic-12-2027") || !strings.Contains(advice.String(), "--kid clinic-12-2027") {
		t.Errorf("rotation advice does not name the key_id:\n%s", advice.String())
	}
}

// TestSMARTKeyRotationKeepsOldKeyID: a gateway whose configuration signs
// with key_id (the kid registered by `ferry smart-key --kid`) goes on
// signing with it until it restarts on the new key, and an exchange finds
// the key by the assertion's kid. `ferry smart-key NEW --also OLD` put OLD
// in the JWKS under its thumbprint only, so once that JWKS was registered
// (or published at jwks_url) every token request of the running gateway
// was refused until the restart. The old key is now published under the
// key_id the configuration signs it with; a new --kid equal to it, which
// would make one kid name two keys, is refused.
func TestSMARTKeyRotationKeepsOldKeyID(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "smart.key"), filepath.Join(dir, "smart-2027.key")
	if err := cmdSMARTKey(context.Background(), []string{"--kid", "clinic-12-2026", oldKey}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "ferry.yaml")
	yml := fmt.Sprintf("data_dir: %q\nexchange:\n  url: https://hie.example.org/fhir\n  auth:\n    smart: {client_id: clinic-12-ferry, key_file: %q, key_id: clinic-12-2026}\n",
		filepath.Join(dir, "data"), oldKey)
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdSMARTKey(context.Background(), []string{"--config", cfgFile, "--kid", "clinic-12-2027", newKey, "--also", oldKey}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(out.Bytes(), &jwks); err != nil || len(jwks.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", out.String(), err)
	}

	// The exchange's token endpoint: it checks each assertion with the key
	// the registered JWKS holds under the assertion's kid.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := jwt.ParseSigned(r.FormValue("client_assertion"), []jose.SignatureAlgorithm{jose.ES384})
		if err != nil {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusBadRequest)
			return
		}
		keys := jwks.Key(tok.Headers[0].KeyID)
		var claims jwt.Claims
		if len(keys) != 1 || tok.Claims(keys[0].Key, &claims) != nil {
			http.Error(w, `{"error":"invalid_client","error_description":"no key for kid `+tok.Headers[0].KeyID+`"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"bearer","expires_in":300,"scope":"system/*.crus"}`)
	}))
	defer srv.Close()
	for _, smart := range []fhirhttp.SMARTConfig{
		{ClientID: "clinic-12-ferry", KeyFile: oldKey, KeyID: "clinic-12-2026", TokenURL: srv.URL + "/token"}, // before the restart
		{ClientID: "clinic-12-ferry", KeyFile: newKey, KeyID: "clinic-12-2027", TokenURL: srv.URL + "/token"}, // after it
	} {
		if _, _, err := fhirhttp.CheckSMART(context.Background(), smart, srv.URL, srv.Client()); err != nil {
			t.Errorf("key %s, kid %s, with the rotation's JWKS: %v", filepath.Base(smart.KeyFile), smart.KeyID, err)
		}
	}

	if err := cmdSMARTKey(context.Background(), []string{"--config", cfgFile, "--kid", "clinic-12-2026", newKey, "--also", oldKey}, io.Discard, io.Discard); err == nil {
		t.Error("a new --kid equal to the old key's key_id was accepted")
	}
}
