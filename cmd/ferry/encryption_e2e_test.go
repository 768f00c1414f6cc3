package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"github.com/ferry-health/ferry/adapters"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue/seal"
)

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// encryptedConfig is a gateway config with encryption on, a hold on R and
// the given exchange URL and retry interval.
func encryptedConfig(t *testing.T, dataDir, keyFile, url, retry string, paths pki.Paths) *config.Config {
	t.Helper()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: %s, max_interval: %s}
  hold: [R]
encryption:
  key_file: %q
`, dataDir, url, paths.CA, paths.ClientCert, paths.ClientKey, retry, retry, keyFile)
	return cfg
}

// startLogged starts a gateway whose log (info and up) goes to the
// returned buffer.
func startLogged(t *testing.T, cfg *config.Config) (*gateway, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	gw, err := newGateway(cfg, newLogger(logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	return gw, logs
}

// filesContaining lists the files under dir whose bytes contain any of
// needles.
func filesContaining(t *testing.T, dir string, needles ...string) (hits []string, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, p+" ("+n+")")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, files
}

const secretName = "Quonsetthwaite"

// withBase64 returns s and the forms s takes inside any standard base64
// text (one per alignment), since the quarantine keeps raw inputs as
// base64 in its JSON.
func withBase64(s string) []string {
	out := []string{s}
	for o := 0; o < 3; o++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, o), s...))
		out = append(out, enc[(8*o+5)/6:(8*(o+len(s)))/6])
	}
	return out
}

func secretADT(i int) string {
	return fmt.Sprintf("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|ENC-%d|P|2.5.1\r"+
		"EVN|A01|20261125083000\rPID|1||MRN-Q%d^^^CLINIC^MR||%s^Philippa%d||19800101|F\rPV1|1|O\r", i, i, secretName, i)
}

// TestGatewayEncryptedAtRest is invariant 5 end to end. With encryption on
// and the exchange unreachable, five ADTs (queued), a malformed message
// (quarantined) and a protected visit (held by policy) carrying a
// distinctive patient name are acknowledged, and no file anywhere under
// data_dir holds that name or the MRNs. A restart with another key
// delivers nothing, says which keys differ, and keeps every item; a
// restart with the right key and the exchange up delivers all five, and
// the quarantined and held entries read back whole.
func TestGatewayEncryptedAtRest(t *testing.T) {
	paths, recv, url := testPKI(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(t.TempDir(), "ferry.key")
	key, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	// 1. Exchange unreachable (nothing listens there), retries far apart.
	down := "https://" + freeAddr(t) + "/fhir"
	gw, logs := startLogged(t, encryptedConfig(t, dataDir, keyFile, down, "1h", paths))
	if !strings.Contains(logs.String(), "data at rest encrypted") || !strings.Contains(logs.String(), key.ID()) {
		t.Fatalf("no encryption line with the key id in the log:\n%s", logs.String())
	}
	conn, rd := dial(t, gw)
	const n = 5
	for i := 0; i < n; i++ {
		if got := send(t, conn, rd, secretADT(i)); got != "AA" {
			t.Fatalf("message %d: MSA-1 %s", i, got)
		}
	}
	bad := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|ENC-BAD|P|2.5.1\rPID|1||||" + secretName + "^Bad\r"
	if got := send(t, conn, rd, bad); got != "AE" {
		t.Fatalf("malformed: MSA-1 %s, want AE", got)
	}
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|ENC-HOLD|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-QH^^^CLINIC^MR||" + secretName + "^Held||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	if got := send(t, conn, rd, restricted); got != "AA" {
		t.Fatalf("restricted: MSA-1 %s", got)
	}
	if got := gw.q.Len(); got != n {
		t.Fatalf("queued %d, want %d", got, n)
	}
	if q, h := gw.pipe.Stats().Quarantined.Load(), gw.pipe.Stats().Held.Load(); q != 1 || h != 1 {
		t.Fatalf("quarantined %d, held %d", q, h)
	}
	if strings.Contains(logs.String(), secretName) {
		t.Fatal("the patient name is in the log")
	}
	// The ordering keys left in clear (queue headers) are the key's
	// pseudonyms of the plain patient keys, which a list of MRNs would
	// reproduce: those appear nowhere.
	plain := map[string]bool{}
	for i := 0; i < n; i++ {
		units, err := converters(gw.cfg)["hl7v2"].Convert(context.Background(), adapters.Raw{Format: "hl7v2", Name: "check", Body: []byte(secretADT(i))})
		if err != nil || len(units) == 0 || units[0].Key == "" {
			t.Fatalf("converting message %d again: %v", i, err)
		}
		plain[units[0].Key] = true
	}
	for _, it := range gw.q.Pending(0) {
		if plain[it.Key] {
			t.Fatalf("queue item %s carries the plain patient key", it.ID)
		}
		found := false
		for k := range plain {
			found = found || it.Key == key.Pseudonym(k)
		}
		if !found {
			t.Fatalf("queue item %s key %s is no pseudonym of a sent patient's key", it.ID, it.Key)
		}
	}
	conn.Close()
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	needles := append(withBase64(secretName), strings.ToLower(secretName), "MRN-Q0", "MRN-QH", "Philippa")
	for k := range plain {
		needles = append(needles, k)
	}
	hits, files := filesContaining(t, dataDir, needles...)
	if len(hits) > 0 {
		t.Fatalf("plaintext PHI at rest in %d of %d files:\n%s", len(hits), files, strings.Join(hits, "\n"))
	}
	for _, sub := range []string{"queue", "quarantine", "held"} {
		if _, err := os.Stat(filepath.Join(dataDir, sub)); err != nil {
			t.Fatalf("%s: %v", sub, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "outbox")); err == nil {
		if h, _ := filesContaining(t, filepath.Join(dataDir, "outbox"), secretName); len(h) > 0 {
			t.Fatal("outbox used with an exchange configured")
		}
	}

	// 2. Another key, exchange up: the gateway does not start (it would
	// take input sealed with a key that cannot open the rest), names both
	// keys and no key material, and leaves every item.
	otherFile := filepath.Join(t.TempDir(), "other.key")
	other, err := seal.GenerateKeyFile(otherFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newGateway(encryptedConfig(t, dataDir, otherFile, url, "20ms", paths), newLogger(&lockedBuffer{}, "info"))
	if err == nil || !strings.Contains(err.Error(), "sealed with key "+key.ID()+" (5 queue items, 1 quarantine entry, 1 held entry)") ||
		!strings.Contains(err.Error(), "the configured key is "+other.ID()) || !strings.Contains(err.Error(), "previous_key_files") {
		t.Fatalf("start with another key: %v", err)
	}
	raw, _ := os.ReadFile(keyFile)
	if strings.Contains(err.Error(), strings.TrimSpace(string(raw))) {
		t.Fatal("the error shows key material")
	}
	if recv.Bundles() != 0 {
		t.Fatalf("delivered %d bundles with the wrong key", recv.Bundles())
	}
	// Encryption turned off is refused alike.
	plainCfg := encryptedConfig(t, dataDir, otherFile, url, "20ms", paths)
	plainCfg.Encryption.KeyFile = ""
	if _, err := newGateway(plainCfg, newLogger(&lockedBuffer{}, "info")); err == nil || !strings.Contains(err.Error(), "encryption is off") {
		t.Fatalf("start without a key: %v", err)
	}

	// 3. The right key, exchange up: everything arrives.
	gw3, _ := startLogged(t, encryptedConfig(t, dataDir, keyFile, url, "20ms", paths))
	waitFor(t, "queue to drain", func() bool { return gw3.q.Len() == 0 && recv.Bundles() == n })
	named := 0
	for _, p := range recv.Resources("Patient") {
		if strings.Contains(string(p), secretName) {
			named++
		}
	}
	if named != n {
		t.Errorf("patients named %s at the exchange: %d, want %d", secretName, named, n)
	}
	// The status report (page JSON, ferry status) names the key by its id.
	var st bytes.Buffer
	r := gw3.report()
	r.Online = true
	ops.PrintStatus(&st, &r)
	if r.Encryption != (ops.Encryption{On: true, KeyID: key.ID()}) || !strings.Contains(st.String(), "encryption:        on (key "+key.ID()+")") {
		t.Errorf("status: %+v\n%s", r.Encryption, st.String())
	}
	if dl := gw3.q.Stats().DeadLetters; dl != 0 {
		t.Errorf("dead letters: %d", dl)
	}
	qe, err := gw3.pipe.Quarantine().Get(mustList(t, gw3.pipe.Quarantine().List)[0])
	if err != nil || !bytes.Contains(qe.Raw, []byte(secretName)) {
		t.Fatalf("quarantined input: %v", err)
	}
	he, err := gw3.pipe.Held().Get(mustList(t, gw3.pipe.Held().List)[0])
	if err != nil || !strings.Contains(string(he.Bundle), secretName) || he.Label != "R" {
		t.Fatalf("held bundle: %v", err)
	}
	if err := gw3.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// 4. Key rotation: the new key as key_file, the old one as a previous
	// key. The gateway starts, the entries sealed with the old key open,
	// and a new message is sealed with the new key and delivered.
	rotated := encryptedConfig(t, dataDir, otherFile, url, "20ms", paths)
	rotated.Encryption.PreviousKeyFiles = []string{keyFile}
	gw4, _ := startLogged(t, rotated)
	if _, err := gw4.pipe.Held().Get(mustList(t, gw4.pipe.Held().List)[0]); err != nil {
		t.Fatalf("held entry after the rotation: %v", err)
	}
	conn, rd = dial(t, gw4)
	defer conn.Close()
	if got := send(t, conn, rd, secretADT(n)); got != "AA" {
		t.Fatalf("after the rotation: MSA-1 %s", got)
	}
	waitFor(t, "the new message delivered", func() bool { return recv.Bundles() == n+1 })
}

func mustList(t *testing.T, list func() ([]string, error)) []string {
	t.Helper()
	ids, err := list()
	if err != nil || len(ids) == 0 {
		t.Fatalf("list: %v %v", ids, err)
	}
	return ids
}

// TestGatewayPlaintextControl is the control for TestGatewayEncryptedAtRest:
// without a key the same traffic leaves the name on disk (queue,
// quarantine and held), so the search there would find a leak.
func TestGatewayPlaintextControl(t *testing.T) {
	paths, _, _ := testPKI(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := encryptedConfig(t, dataDir, filepath.Join(t.TempDir(), "unused.key"), "https://"+freeAddr(t)+"/fhir", "1h", paths)
	cfg.Encryption.KeyFile = ""
	gw, _ := startLogged(t, cfg)
	conn, rd := dial(t, gw)
	send(t, conn, rd, secretADT(0))
	send(t, conn, rd, "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|ENC-BAD|P|2.5.1\rPID|1||||"+secretName+"^Bad\r")
	send(t, conn, rd, "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|ENC-HOLD|P|2.5.1\r"+
		"EVN|A01|20261125083000\rPID|1||MRN-QH^^^CLINIC^MR||"+secretName+"^Held||19800101|F\rPV1|1|I|PSY\rPV2||||||||||||||||||||||Y\r")
	conn.Close()
	gw.Shutdown(context.Background())
	hits, _ := filesContaining(t, dataDir, withBase64(secretName)...)
	for _, sub := range []string{"queue", "quarantine", "held"} {
		found := false
		for _, h := range hits {
			found = found || strings.Contains(h, string(filepath.Separator)+sub+string(filepath.Separator))
		}
		if !found {
			t.Errorf("without a key the name is not found under %s: the search would miss a leak there (hits %v)", sub, hits)
		}
	}
}

// TestGatewayBadKeyFileFailsStart: a missing key file stops the start
// with the field and the fix, before any store is written.
func TestGatewayBadKeyFileFailsStart(t *testing.T) {
	paths, _, url := testPKI(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	missing := filepath.Join(t.TempDir(), "ferry.key")
	_, err := newGateway(encryptedConfig(t, dataDir, missing, url, "1s", paths), newLogger(&lockedBuffer{}, "info"))
	if err == nil || !strings.Contains(err.Error(), "encryption.key_file: key file "+missing+" does not exist (make one with: ferry keygen") {
		t.Fatalf("start with a missing key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "queue")); err == nil {
		t.Error("queue created before the key was checked")
	}
}
