package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueueShowBodyGatewayError: a dead letter the running gateway cannot
// read (its file damaged on disk) made `ferry queue show ID --body` say
// only "gateway answered 500 Internal Server Error", dropping the reason
// the gateway gave in its answer, which the command names when it reads
// the file itself. It now says the gateway's reason.
func TestQueueShowBodyGatewayError(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfgFile, cfg := writeCfg(t, t.TempDir(), strings.TrimPrefix(srv.URL, "http://"))
	q, ids := deadLetterQueue(t, cfg, 1)
	defer q.Close(context.Background())
	g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
	g.registerOps(mux)

	files, err := filepath.Glob(filepath.Join(cfg.Path("queue"), "dead", "*-"+ids[0]+".json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("dead letter file: %v %v", files, err)
	}
	if err := os.WriteFile(files[0], []byte("\x00\x00 damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runQueue(t, "show", ids[0], "--body", "--config", cfgFile)
	if err == nil || !strings.Contains(err.Error(), "decode dead letter") {
		t.Errorf("show --body of a damaged dead letter through the gateway: %v, want the gateway's reason\n%s", err, out)
	}
}
