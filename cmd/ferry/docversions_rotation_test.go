package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

// TestRetriedVersionAfterKeyRotation is TestRetriedVersionAfterReplacement
// across a rotation of the data-at-rest key: D-1's T02 is dead-lettered
// under the old key, the T10 of D-2 replacing it is delivered under the
// new one (the old as a previous key), and D-1's dead letter is then
// retried. Its bundle names the version it writes current by the old
// key's pseudonym, and the registry of replaced documents held only the
// new key's (and the plain key), so D-1 went to the exchange current
// again, beside D-2; with the previous keys' pseudonyms recorded too it
// goes superseded.
func TestRetriedVersionAfterKeyRotation(t *testing.T) {
	paths, recv, url := testPKI(t)
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	for _, k := range []string{oldKey, newKey} {
		if _, err := seal.GenerateKeyFile(k); err != nil {
			t.Fatal(err)
		}
	}
	base := `data_dir: ` + filepath.Join(dir, "data") + `
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: ` + url + `
  tls: {ca_file: ` + paths.CA + `, cert_file: ` + paths.ClientCert + `, key_file: ` + paths.ClientKey + `}
  retry: {initial_interval: 20ms, max_interval: 200ms}
status:
  listen: ""
`
	before := base + fmt.Sprintf("encryption: {key_file: %s}\n", oldKey)
	after := base + fmt.Sprintf("encryption: {key_file: %s, previous_key_files: [%s]}\n", newKey, oldKey)
	cfgFile := filepath.Join(dir, "ferry.yaml")

	gw := runGateway(t, parseConfig(t, "%s", before))
	conn, rd := dial(t, gw)
	recv.SetFailure(422)
	if got := send(t, conn, rd, mdmDoc("T02", "KR-1", "", "D-1", "")); got != "AA" {
		t.Fatalf("T02: MSA-1 %s, want AA", got)
	}
	var dlID string
	waitFor(t, "T02 dead-lettered", func() bool {
		dls, _ := gw.q.DeadLetters()
		if len(dls) == 1 {
			dlID = dls[0].ID
		}
		return dlID != ""
	})
	recv.SetFailure(0)
	conn.Close()
	gw.Shutdown(context.Background())

	// The rotation.
	if err := os.WriteFile(cfgFile, []byte(after), 0o600); err != nil {
		t.Fatal(err)
	}
	gw = runGateway(t, parseConfig(t, "%s", after))
	conn, rd = dial(t, gw)
	if got := send(t, conn, rd, mdmDoc("T10", "KR-2", "", "D-2", "D-1")); got != "AA" {
		t.Fatalf("T10: MSA-1 %s, want AA", got)
	}
	waitFor(t, "T10 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 1 })
	conn.Close()
	gw.Shutdown(context.Background())

	var out bytes.Buffer
	if err := cmdQueue(context.Background(), []string{"retry", "--force", dlID, "--config", cfgFile}, &out, &out); err != nil {
		t.Fatalf("retry --force: %v\n%s", err, out.String())
	}
	gw = runGateway(t, parseConfig(t, "%s", after))
	waitFor(t, "retried D-1 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 2 })
	if got := exchangeDocs(t, recv); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("after the retry the exchange has %v, want D-1 superseded, D-2 current", got)
	}
}
