package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/transport/audit"
)

// TestREADMEDefaults: the defaults README's tables of keys ("Keys that
// changed recently", "Other keys") give are those the gateway applies,
// read from the code, since a contractor sizes memory, timeouts and
// retention by them.
func TestREADMEDefaults(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // the key cell, as written, to the rest of its row
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, " | ")
		if strings.HasPrefix(line, "| `") && ok {
			rows[strings.TrimPrefix(key, "| ")] = rest
		}
	}
	c, err := config.Parse("ferry.yaml", []byte("data_dir: /tmp/x\nsources:\n  mllp:\n    - {listen: 127.0.0.1:2575}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Sources.MLLP[0]
	fd, ehr := folder.DefaultConfig(), ehrdrop.DefaultConfig()
	for key, want := range map[string][]string{
		"`sources.mllp[].max_conns_per_ip`":              {fmt.Sprint(m.MaxConnsPerIP), fmt.Sprint(m.MaxConns)},
		"`sources.mllp[].read_timeout`":                  {dur(m.ReadTimeout)},
		"`sources.mllp[].frame_timeout`":                 {dur(m.FrameTimeout), mib(int64(m.MaxFrameBytes))},
		"`sources.mllp[].max_buffered_bytes`":            {mib(m.MaxBufferedBytes)},
		"`sources.mllp[].max_frame_bytes`":               {mib(int64(m.MaxFrameBytes)), fmt.Sprint(m.MaxFrameBytes)},
		"`sources.mllp[].sequence_numbers`":              {m.SequenceNumbers},
		"`sources.mllp[].processing_ids`":                {"[" + strings.Join(m.ProcessingIDs, ", ") + "]"},
		"`exchange.retry.max_age`":                       {dur(c.Exchange.Retry.MaxAge)},
		"`exchange.retry.unknown_outcome_delay`":         {dur(c.Exchange.Retry.UnknownOutcomeDelay)},
		"`exchange.timeout`":                             {dur(c.Exchange.Timeout)},
		"`queue.max_items`":                              {fmt.Sprint(c.Queue.MaxItems), fmt.Sprintf("%d GiB", c.Queue.MaxBytes>>30)},
		"`retention.done`":                               {dur(c.Retention.Done)},
		"`log.level`":                                    {c.Log.Level},
		"`hl7v2.writes`":                                 {c.HL7v2.Writes},
		"`sources.folders[].settle`":                     {dur(fd.Settle)},
		"`sources.folders[].rescan`":                     {dur(fd.Rescan)},
		"`sources.folders[].after`":                      {fd.After},
		"`sources.folders[].retry_initial`, `retry_max`": {dur(fd.RetryInitial), dur(fd.RetryMax)},
		"`sources.folders[].max_body_bytes`":             {mib(fd.MaxBodyBytes), mib(ehr.MaxBodyBytes)},
		"`sources.max_whole_file_bytes`":                 {mib(pipeline.DefaultMaxWholeFileBytes), fmt.Sprint(pipeline.DefaultMaxWholeFileBytes)},
		"`audit.max_spool_bytes`, `audit.site`":          {mib(audit.DefaultMaxSpoolBytes)},
	} {
		row, ok := rows[key]
		if !ok {
			t.Errorf("README.md has no row %s", key)
			continue
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("README.md row %s does not say %s: %s", key, w, row)
			}
		}
	}
}

// dur writes d as README does: 5m, 72h, 30s.
func dur(d time.Duration) string {
	s := d.String()
	if strings.ContainsAny(s, "hm") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.Contains(s, "h") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
