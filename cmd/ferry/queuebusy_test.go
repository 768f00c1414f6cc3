package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// TestQueueOpQueueHeldWithoutGateway: retry, purge and show --body go
// through the gateway's status listener while something holds the queue.
// When that is not a gateway answering there (a `ferry backfill` or
// `held release` holding the queue, a gateway still opening its queue
// before its status page listens), each ID failed with the HTTP client's
// `Post "http://127.0.0.1:8089/api/ops/deadletters/...": dial tcp ...:
// connection refused`, once per dead letter with --all; the command now
// says that the queue is in use and no gateway answers on status.listen,
// and what to do, once.
func TestQueueOpQueueHeldWithoutGateway(t *testing.T) {
	addr := freeAddr(t) // nothing listens there
	cfgFile, cfg := writeCfg(t, t.TempDir(), addr)
	q, ids := deadLetterQueue(t, cfg, 3) // held open: a backfill, say
	defer q.Close(context.Background())
	if _, err := ops.WriteToken(cfg.DataDir); err != nil { // left by an earlier run
		t.Fatal(err)
	}
	for _, args := range [][]string{{"retry", ids[0]}, {"purge", ids[0]}, {"show", ids[0], "--body"}, {"retry", "--all"}} {
		out, err := runQueue(t, append(args, "--config", cfgFile)...)
		text := out
		if err != nil {
			text += err.Error()
		}
		if err == nil || !strings.Contains(text, "no gateway answers on status.listen "+addr) || strings.Contains(text, "dial tcp") {
			t.Errorf("%s while the queue is held and no gateway listens: %v\n%s", strings.Join(args, " "), err, out)
		}
		if n := strings.Count(text, "no gateway answers"); n != 1 {
			t.Errorf("%s: said %d times that no gateway answers, want once:\n%s", strings.Join(args, " "), n, text)
		}
	}
}
