// Package standin runs the CI's stand-in exchange (.ci/exchange/server.mjs:
// Medplum's FHIR router with its in-memory repository behind Node https
// that requires client certificates) for the converters' exchange tests,
// so that what ferry writes is checked against a real FHIR implementation.
package standin

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// Exchange is a running stand-in exchange.
type Exchange struct {
	URL     string // the FHIR base
	Control string // the control port's base (counts, dumps)
	Client  *http.Client
}

// Start runs the stand-in on loopback ports with a fresh test PKI, until
// the test ends. It skips the test with -short, or when node or the
// exchange's node_modules (npm ci in .ci/exchange) are missing.
func Start(t testing.TB) *Exchange {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the node exchange")
	}
	dir, err := exchangeDir()
	if err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@medplum")); err != nil {
		t.Skip("run npm ci in .ci/exchange first")
	}
	tmp := t.TempDir()
	pki := filepath.Join(tmp, "pki")
	if out, err := exec.Command("bash", filepath.Join(dir, "pki.sh"), pki).CombinedOutput(); err != nil {
		t.Skipf("pki.sh: %v\n%s", err, out)
	}
	readyFile := filepath.Join(tmp, "ready.json")
	cmd := exec.Command("node", "--experimental-websocket", "server.mjs", "--pki", pki,
		"--ready-file", readyFile, "--port", "0", "--control-port", "0")
	cmd.Dir = dir
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var ready struct{ URL, Control string }
	for start := time.Now(); ; {
		if b, err := os.ReadFile(readyFile); err == nil && json.Unmarshal(b, &ready) == nil && ready.URL != "" {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("exchange did not become ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(pki, "client.pem"), filepath.Join(pki, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(pki, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &Exchange{URL: ready.URL, Control: ready.Control, Client: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}}
}

// exchangeDir finds .ci/exchange from the module's root, the first
// directory up from the test's that holds go.mod.
func exchangeDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".ci", "exchange"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Do sends a request over mutual TLS and decodes its 2xx JSON answer; any
// other answer fails the test.
func (ex *Exchange) Do(t testing.TB, method, u string, body []byte) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := ex.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Reset empties the repository, for the next case of a test.
func (ex *Exchange) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(ex.Control+"/control/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Post sends each transaction or batch Bundle and fails the test unless
// every entry was answered 2xx.
func (ex *Exchange) Post(t testing.TB, bundles ...*fhir.Bundle) {
	t.Helper()
	for _, b := range bundles {
		body, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		answer := ex.Do(t, "POST", ex.URL, body)
		entries, _ := answer["entry"].([]any)
		for i, e := range entries {
			if st := fmt.Sprint(e.(map[string]any)["response"].(map[string]any)["status"]); !strings.HasPrefix(st, "2") {
				t.Fatalf("entry %d answered %s", i, st)
			}
		}
	}
}

// Patient returns the one Patient stored with the identifier system|value;
// none or several fail the test.
func (ex *Exchange) Patient(t testing.TB, system, value string) map[string]any {
	t.Helper()
	found := ex.Do(t, "GET", ex.URL+"/Patient?identifier="+url.QueryEscape(system+"|"+value), nil)
	entries, _ := found["entry"].([]any)
	if len(entries) != 1 {
		t.Fatalf("%d Patients with identifier %s|%s, want 1", len(entries), system, value)
	}
	return entries[0].(map[string]any)["resource"].(map[string]any)
}

// Replaces reports whether Patient p has a replaces link to retired, by
// retired's literal id or by its identifier system|value (how a merge
// survivor names the record merged into it).
func Replaces(p, retired map[string]any, system, value string) bool {
	links, _ := p["link"].([]any)
	for _, l := range links {
		l := l.(map[string]any)
		if l["type"] != "replaces" {
			continue
		}
		other, _ := l["other"].(map[string]any)
		if other["reference"] == "Patient/"+fmt.Sprint(retired["id"]) {
			return true
		}
		if id, ok := other["identifier"].(map[string]any); ok && id["system"] == system && id["value"] == value {
			return true
		}
	}
	return false
}

// Count asks the control port how many resources of a type are stored.
func (ex *Exchange) Count(t testing.TB, typ string) int {
	t.Helper()
	resp, err := http.Get(ex.Control + "/control/count?type=" + typ)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Count int }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.Count
}
