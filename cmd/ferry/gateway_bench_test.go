package main

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp/mllpbench"
	"github.com/ferry-health/ferry/config"
)

// BenchmarkGatewayMLLP measures the whole ingest path: MLLP frame → parse
// → convert → queue Put (fsync, group commit) → dedup → ACK, with the
// dispatcher delivering into the outbox folder at the same time.
//
//	go test ./cmd/ferry -run '^$' -bench GatewayMLLP -benchtime 20000x
//
// The "held" variant points delivery at a closed port, so the queue only
// fills: it isolates ingest from the outbox's own fsyncs.
func BenchmarkGatewayMLLP(b *testing.B) {
	for _, mode := range []string{"outbox", "held"} {
		for _, conns := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", mode, conns), func(b *testing.B) {
				benchGateway(b, mode, conns)
			})
		}
	}
}

func benchGateway(b *testing.B, mode string, conns int) {
	{
		{
			exchange := ""
			if mode == "held" {
				exchange = "exchange: {url: \"https://127.0.0.1:1/fhir\", retry: {initial_interval: 1m, max_interval: 1m}}"
			}
			cfg, err := config.Parse("bench", []byte(fmt.Sprintf(`
data_dir: %q
sources:
  mllp:
    - name: b
      listen: 127.0.0.1:0
%s
`, b.TempDir(), exchange)))
			if err != nil {
				b.Fatal(err)
			}
			gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
			if err != nil {
				b.Fatal(err)
			}
			if err := gw.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer gw.Shutdown(context.Background())
			per := b.N / conns
			if per == 0 {
				per = 1
			}
			b.ResetTimer()
			res, err := mllpbench.Run(context.Background(), mllpbench.Config{Addr: gw.MLLPAddr("b").String(), Conns: conns, Messages: per})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.Rate(), "msg/s")
			b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
		}
	}
}
