package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/adapters/mllp/mllpbench"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// BenchmarkGatewayMLLP measures the whole ingest path: MLLP frame → parse
// → convert → queue Put (fsync, group commit) → dedup → ACK, with the
// dispatcher delivering into the outbox folder at the same time.
//
//	go test ./cmd/ferry -run '^$' -bench GatewayMLLP -benchtime 20000x
//
// The "held" variant points delivery at a closed port, so the queue only
// fills: it isolates ingest from the outbox's own fsyncs. "sealed" is
// "held" with encryption at rest (encryption.key_file).
func BenchmarkGatewayMLLP(b *testing.B) {
	for _, mode := range []string{"outbox", "held", "sealed"} {
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
			if mode == "held" || mode == "sealed" {
				// A throwaway client certificate: an exchange is always
				// reached with mutual TLS, even one that is never up.
				paths, err := pki.WriteDemoSet(filepath.Join(b.TempDir(), "pki"))
				if err != nil {
					b.Fatal(err)
				}
				exchange = fmt.Sprintf("exchange: {url: \"https://127.0.0.1:1/fhir\", tls: {cert_file: %q, key_file: %q}, retry: {initial_interval: 1m, max_interval: 1m}}",
					paths.ClientCert, paths.ClientKey)
			}
			if mode == "sealed" {
				keyFile := filepath.Join(b.TempDir(), "ferry.key")
				if _, err := seal.GenerateKeyFile(keyFile); err != nil {
					b.Fatal(err)
				}
				exchange += fmt.Sprintf("\nencryption: {key_file: %q}", keyFile)
			}
			cfg := parseConfig(b, `
data_dir: %q
sources:
  mllp:
    - name: b
      listen: 127.0.0.1:0
%s
`, b.TempDir(), exchange)
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
			cpu0 := cpuTime()
			start := time.Now()
			res, err := mllpbench.Run(context.Background(), mllpbench.Config{Addr: gw.MLLPAddr("b").String(), Conns: conns, Messages: per})
			b.StopTimer()
			cpu := cpuTime() - cpu0
			if err != nil {
				b.Fatal(err)
			}
			if mode == "outbox" {
				// The end-to-end rate: until every accepted message is in
				// the outbox (durably), the queue only buffers.
				for gw.disp.Stats().Delivered < uint64(res.Sent) {
					time.Sleep(time.Millisecond)
				}
				b.ReportMetric(float64(res.Sent)/time.Since(start).Seconds(), "delivered/s")
			}
			if res.Accepted() != res.Sent || res.Sent != conns*per {
				b.Fatalf("accepted %d of %d sent, want %d: %+v", res.Accepted(), res.Sent, conns*per, res)
			}
			b.ReportMetric(res.Rate(), "msg/s")
			// CPU time of the whole process (gateway and the in-process
			// load generator) per message: unlike msg/s it does not depend
			// on what else the machine is running.
			b.ReportMetric(float64(cpu.Microseconds())/float64(res.Sent), "cpu-µs/msg")
			b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
		}
	}
}

// BenchmarkIngestParts takes the ingest path apart to show where its time
// goes, with the same MLLP listener, converter and load generator as the
// gateway but the stores chosen per variant:
//
//	full         diskq (group commit, fdatasync) + dedup set, as the gateway
//	nodedup      diskq only: what the dedup set's own write+fsync costs
//	noqueue      convert and encode, then ACK without storing anything
//	precomputed  "full" with conversion's cost taken out: each message
//	             is parsed and gets its own dedup key, but its bundles
//	             are copies of those converted for the first message of
//	             its type (replayConverter); the same bytes reach the
//	             queue, so "full" against "precomputed" is what
//	             conversion costs a message where it runs, between
//	             socket and disk, not in a warm loop (BenchmarkHL7Convert)
//
//	go test ./cmd/ferry -run '^$' -bench IngestParts -benchtime 20000x
func BenchmarkIngestParts(b *testing.B) {
	for _, variant := range []string{"full", "nodedup", "noqueue", "precomputed"} {
		for _, conns := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", variant, conns), func(b *testing.B) {
				benchIngestParts(b, variant, conns)
			})
		}
	}
}

// discardPutter accepts every item without storing it.
type discardPutter struct{ n atomic.Int64 }

func (d *discardPutter) Put(_ context.Context, it *queue.Item) error {
	d.n.Add(int64(len(it.Body)))
	return nil
}

func benchIngestParts(b *testing.B, variant string, conns int) {
	dir := b.TempDir()
	cfg := parseConfig(b, "data_dir: %q\n", dir)
	var put pipeline.Putter = &discardPutter{}
	var dd pipeline.Deduper
	if variant != "noqueue" {
		q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close(context.Background())
		put = q
	}
	if variant == "full" || variant == "precomputed" {
		s, err := dedup.Open(filepath.Join(dir, "dedup.log"), dedup.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		dd = s
	}
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		b.Fatal(err)
	}
	convs := converters(cfg)
	if variant == "precomputed" {
		convs["hl7v2"] = &replayConverter{real: convs["hl7v2"], seen: map[hl7v2.MessageType][]pipeline.Unit{}}
	}
	pipe := pipeline.New(put, dd, quar, convs, nil)
	src, err := mllp.New(adapters.Settings{ID: "mllp/bench"}, mllp.Config{Listen: "127.0.0.1:0"}, pipe)
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	defer src.Shutdown(context.Background())
	per := max(b.N/conns, 1)
	b.ResetTimer()
	cpu0 := cpuTime()
	res, err := mllpbench.Run(context.Background(), mllpbench.Config{Addr: src.Addr().String(), Conns: conns, Messages: per})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err != nil {
		b.Fatal(err)
	}
	if res.Accepted() != conns*per {
		b.Fatalf("accepted %d of %d: %+v", res.Accepted(), conns*per, res)
	}
	b.ReportMetric(res.Rate(), "msg/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(res.Sent), "cpu-µs/msg")
	b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
}

// replayConverter converts the first message of each type (MSH-9) with
// the real converter and answers every later one of that type with copies
// of those units, named after the message and with its own dedup key
// (so that none is taken for a duplicate). They keep the first message's
// queue key (its patient), so the queue indexes them under one key
// instead of one a patient: Put saves a map insert, a fraction of a µs.
type replayConverter struct {
	real pipeline.Converter
	mu   sync.Mutex
	seen map[hl7v2.MessageType][]pipeline.Unit
}

func (c *replayConverter) Convert(ctx context.Context, in adapters.Raw) ([]pipeline.Unit, error) {
	m, err := hl7v2.ParseShared(in.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	kept, ok := c.seen[m.Type()]
	c.mu.Unlock()
	if !ok {
		units, err := c.real.Convert(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, u := range units {
			if u.Err != nil {
				return units, nil
			}
			kept = append(kept, pipeline.Unit{Name: u.Name, Bundle: bytes.Clone(u.Bundle), Key: u.Key, Attrs: u.Attrs})
		}
		c.mu.Lock()
		c.seen[m.Type()] = kept
		c.mu.Unlock()
		return units, nil
	}
	units := make([]pipeline.Unit, len(kept))
	dk := pipeline.DedupKey(m)
	// The real converter makes one attribute map a message, shared by
	// its parts; so does the replay, with the message's own control id.
	attrs := maps.Clone(kept[0].Attrs)
	attrs["control_id"] = m.ControlID()
	for i, u := range kept {
		units[i] = pipeline.Unit{Name: "message (MSH-10 " + m.ControlID() + ")", Bundle: bytes.Clone(u.Bundle), Key: u.Key, Attrs: attrs, Dedup: dk}
	}
	return units, nil
}

// BenchmarkHL7Convert measures what the gateway does per MLLP message
// before the queue: pipeline.HL7.Convert, i.e. SplitBatch, Parse, dedup
// key, v2fhir Convert, Split and fhir.Marshal, on the messages the load
// generator sends (a 5-result ORU^R01 and an ADT^A01). Run with -cpu 1 for
// a per-core figure:
//
//	go test ./cmd/ferry -run '^$' -bench HL7Convert -cpu 1
func BenchmarkHL7Convert(b *testing.B) {
	cfg, err := config.Parse("bench", []byte("data_dir: /nonexistent\n"))
	if err != nil {
		b.Fatal(err)
	}
	conv := converters(cfg)["hl7v2"]
	for _, k := range []mllpbench.Kind{mllpbench.ADT, mllpbench.ORU} {
		b.Run(string(k), func(b *testing.B) {
			var msgs [][]byte
			for i := range 64 {
				msgs = append(msgs, mllpbench.Generate(k, fmt.Sprintf("B%d", i), i*37, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)))
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				units, err := conv.Convert(context.Background(), adapters.Raw{Format: "hl7v2", Body: msgs[i%len(msgs)]})
				// An ORU with a conditional Patient is sent in parts of at
				// most fhir.MaxConditionalEntries entries (v2fhir Parts).
				if err != nil || len(units) == 0 || slices.ContainsFunc(units, func(u pipeline.Unit) bool { return u.Err != nil }) {
					b.Fatalf("convert: %v, %d units", err, len(units))
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
		})
	}
}
