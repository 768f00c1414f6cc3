package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestQueueUnknownIDSaidAlike: an ID that names no dead letter (mistyped,
// or retried or purged already) was "item not found" to show --body,
// retry and purge when they opened the queue themselves, "retry ID: no
// such item" (or "show ID: no such item") when they went through the
// running gateway, and "no dead letter with this ID (see `ferry queue
// list`)" to show and without a queue: an operator or a script told the
// same mistake three ways. Each now says there is no dead letter with this
// ID, with exit status 1, the gateway running or not.
func TestQueueUnknownIDSaidAlike(t *testing.T) {
	const unknown = "01NOSUCHID0000000000000000"
	check := func(t *testing.T, how, cfgFile string) {
		t.Helper()
		for _, args := range [][]string{{"show", unknown}, {"show", unknown, "--body"}, {"retry", unknown}, {"purge", unknown}} {
			var out, errb bytes.Buffer
			code := runMain(context.Background(), append(append([]string{"queue"}, args...), "--config", cfgFile), &out, &errb)
			got := out.String() + errb.String()
			if code != 1 || !strings.Contains(got, unknown+": no dead letter with this ID (see `ferry queue list`)") ||
				strings.Contains(got, "not found") || strings.Contains(got, "no such item") {
				t.Errorf("%s: queue %v: exit %d, want 1 saying there is no dead letter %s:\n%s", how, args, code, unknown, got)
			}
		}
	}

	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	q, _ := deadLetterQueue(t, cfg, 1)
	q.Close(context.Background())
	check(t, "offline", cfgFile)

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfgFile, cfg = writeCfg(t, t.TempDir(), strings.TrimPrefix(srv.URL, "http://"))
	q, _ = deadLetterQueue(t, cfg, 1)
	defer q.Close(context.Background())
	g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
	g.registerOps(mux)
	check(t, "through the running gateway", cfgFile)
}
