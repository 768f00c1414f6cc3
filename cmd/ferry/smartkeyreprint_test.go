package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestSMARTKeyReprintKeepsKeyID: `ferry smart-key PATH` without --kid
// printed PATH's key under its thumbprint even when the gateway's
// configuration signs PATH's key with exchange.auth.smart.key_id, as it
// does after a rotation made with --kid, whose last step README gives as
// "register `ferry smart-key /etc/ferry/smart-2027.key` alone", and as
// it does with a kid the exchange assigned: the exchange finds the key by
// the assertion's kid, so once that JWKS was registered (or published at
// jwks_url) every token request was refused. A key the configuration
// names is now printed under its key_id, the advice saying so, as --also
// does for the old key; --kid still decides when given.
func TestSMARTKeyReprintKeepsKeyID(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "smart-2027.key")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	yml := fmt.Sprintf("data_dir: %q\nexchange:\n  url: https://hie.example.org/fhir\n  auth:\n    smart: {client_id: clinic-12-ferry, key_file: %q, key_id: clinic-12-2027}\n",
		filepath.Join(dir, "data"), key)
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	kid := func(args ...string) (string, string) {
		t.Helper()
		var out, advice bytes.Buffer
		if err := cmdSMARTKey(context.Background(), args, &out, &advice); err != nil {
			t.Fatal(err)
		}
		var jwks jose.JSONWebKeySet
		if err := json.Unmarshal(out.Bytes(), &jwks); err != nil || len(jwks.Keys) != 1 {
			t.Fatalf("JWKS %s: %v", out.String(), err)
		}
		return jwks.Keys[0].KeyID, advice.String()
	}
	// Made for a configuration that already names it (a kid the
	// exchange assigned), then printed again to register anew.
	for _, run := range []string{"made", "printed again"} {
		got, advice := kid("--config", cfgFile, key)
		if got != "clinic-12-2027" {
			t.Errorf("%s: JWKS kid %q, the gateway signs with key_id clinic-12-2027", run, got)
		}
		if !strings.Contains(advice, "key_id: clinic-12-2027") {
			t.Errorf("%s: advice does not keep key_id:\n%s", run, advice)
		}
	}
	// --kid decides; another key than the configuration's keeps its
	// thumbprint.
	if got, _ := kid("--config", cfgFile, "--kid", "other", key); got != "other" {
		t.Errorf("--kid other: JWKS kid %q", got)
	}
	other := filepath.Join(dir, "other.key")
	if got, _ := kid("--config", cfgFile, other); got == "clinic-12-2027" {
		t.Errorf("a key the configuration does not name was given its key_id")
	}
	// Without --config and no installed configuration, as before.
	if _, err := os.Stat(packageConfig()); err == nil {
		t.Skip("an installed configuration exists")
	}
	if err := cmdSMARTKey(context.Background(), []string{key}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
}
