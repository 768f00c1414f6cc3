package ccdafhir

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// exchange is a running Medplum stand-in exchange (.ci/exchange).
type exchange struct {
	base, control string
	client        *http.Client
}

// startExchange runs .ci/exchange/server.mjs on loopback ports with a
// fresh test PKI; it skips when node or the exchange's modules are absent.
func startExchange(t *testing.T) *exchange {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the node exchange")
	}
	dir, _ := filepath.Abs("../../../.ci/exchange")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@medplum")); err != nil {
		t.Skip("npm ci has not been run in .ci/exchange")
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
		time.Sleep(100 * time.Millisecond)
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
	return &exchange{base: ready.URL, control: ready.Control, client: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}}
}

// do sends a request over mutual TLS and decodes a 2xx JSON answer.
func (ex *exchange) do(t *testing.T, method, u string, body []byte) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := ex.client.Do(req)
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

// count asks the control port how many resources of a type are stored.
func (ex *exchange) count(t *testing.T, typ string) int {
	t.Helper()
	resp, err := http.Get(ex.control + "/control/count?type=" + typ)
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

// TestExchangeIdempotent converts C-CDA documents, splits them into
// ≤50-entry transactions, posts them to the stand-in exchange twice, and
// checks that the second round stores nothing new, that the Patient is
// found by its identifier, and that the DocumentReference points at the
// stored Binary.
func TestExchangeIdempotent(t *testing.T) {
	docs, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if len(docs) == 0 {
		docs, _ = filepath.Glob("../../../testdata/convert/ccda-*/input.xml")
	}
	ex := startExchange(t)
	var bodies [][]byte
	for _, f := range docs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := ConvertBytes(raw, Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		parts, err := Split(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, js)
		}
	}
	types := []string{"Patient", "Practitioner", "Organization", "Encounter", "Condition", "AllergyIntolerance",
		"Medication", "MedicationStatement", "MedicationRequest", "Immunization", "Procedure", "Observation",
		"DiagnosticReport", "DocumentReference", "Binary"}
	snapshot := func() map[string]int {
		m := map[string]int{}
		for _, typ := range types {
			m[typ] = ex.count(t, typ)
		}
		return m
	}
	for _, body := range bodies {
		ex.do(t, "POST", ex.base, body)
	}
	first := snapshot()
	if first["Patient"] == 0 || first["DocumentReference"] == 0 || first["Observation"] == 0 {
		t.Fatalf("nothing stored: %v", first)
	}
	for _, body := range bodies {
		ex.do(t, "POST", ex.base, body)
	}
	if second := snapshot(); !equalCounts(first, second) {
		t.Errorf("second round changed the store:\nfirst  %v\nsecond %v", first, second)
	}
	t.Logf("stored after two rounds of %d transactions: %v", len(bodies), first)

	raw, _ := os.ReadFile(docs[0])
	b, _, _ := ConvertBytes(raw, Options{})
	var dr map[string]any
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Patient:
			q := url.QueryEscape(r.Identifier[0].System + "|" + r.Identifier[0].Value)
			res := ex.do(t, "GET", ex.base+"/Patient?identifier="+q, nil)
			if n, _ := res["entry"].([]any); len(n) != 1 {
				t.Errorf("Patient?identifier: %d matches", len(n))
			}
		case *fhir.DocumentReference:
			dr = ex.do(t, "GET", ex.base+"/DocumentReference/"+r.ID, nil)
		}
	}
	if dr == nil {
		t.Fatal("DocumentReference not found")
	}
	att := dr["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	bin := ex.do(t, "GET", ex.base+"/"+att["url"].(string), nil)
	if bin["resourceType"] != "Binary" {
		t.Errorf("attachment url %v is not a stored Binary", att["url"])
	}
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
