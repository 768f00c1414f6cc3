package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
)

// TestQueueShowPrintsOutcome: the exchange refuses a bundle with a 422
// OperationOutcome; the dead letter keeps the whole answer, and `ferry
// queue show` prints it beside the running gateway (reading the files),
// as does `show --body` and the ops endpoint behind it.
func TestQueueShowPrintsOutcome(t *testing.T) {
	paths, recv, url := testPKI(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
status:
  listen: %q
`, filepath.Join(dir, "data"), url, paths.CA, paths.ClientCert, paths.ClientKey, freeAddr(t))), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	recv.SetFailure(http.StatusUnprocessableEntity)
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s, want AA", got)
	}
	waitFor(t, "the dead letter", func() bool { return gw.q.Stats().DeadLetters == 1 })
	dls, err := gw.q.DeadLetters()
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters: %v %+v", err, dls)
	}
	id := dls[0].ID

	wantAnswer := func(what, out string) {
		t.Helper()
		i := strings.Index(out, "exchange's answer")
		if i < 0 {
			t.Fatalf("%s prints no exchange's answer:\n%s", what, out)
		}
		answer := out[i:]
		if !strings.Contains(answer, `"resourceType": "OperationOutcome"`) || !strings.Contains(answer, `"diagnostics": "receiver is set to fail"`) {
			t.Fatalf("%s: the answer is not the receiver's OperationOutcome:\n%s", what, out)
		}
	}
	out, err := runQueue(t, "show", id, "--config", cfgFile)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	wantAnswer("show", out)
	out, err = runQueue(t, "show", id, "--body", "--config", cfgFile)
	if err != nil || !strings.Contains(out, "bundle:") {
		t.Fatalf("show --body through the gateway: %v\n%s", err, out)
	}
	wantAnswer("show --body", out)

	// The ops endpoint itself carries the answer as a field.
	tok, err := ops.ReadToken(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := ops.RemoteDeadLetter(context.Background(), cfg.Status.Listen, tok, id)
	if err != nil || !strings.Contains(dl.Outcome, "receiver is set to fail") {
		t.Fatalf("ops endpoint: %v, outcome %q", err, dl.Outcome)
	}

	if _, err := runQueue(t, "show", "01NOSUCHID0000000000000000", "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "no dead letter with this ID") {
		t.Fatalf("show unknown: %v", err)
	}
}
