package main

import (
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/queue/latency"
	"github.com/ferry-health/ferry/transport/audit"
	"time"

	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// expoFamily is one metric family as parseExposition reads it.
type expoFamily struct {
	name, typ, help string
	samples         []expoSample
}

// expoSample is one line of a family: the sample's own name (with a
// histogram's _bucket, _sum or _count), its labels and value.
type expoSample struct {
	name   string
	labels map[string]string
	key    string // the labels in order, for duplicates
	value  float64
}

var (
	expoMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	expoLabelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition reads text in the Prometheus text exposition format
// (version 0.0.4) strictly, failing on what a scraper refuses or what the
// format's rules forbid: a family with no TYPE or HELP, or two of either;
// a TYPE after its family's samples; a family's lines not together; a
// bad name, label or escape; a series twice; a histogram whose buckets
// are not cumulative or whose +Inf bucket is not its _count.
func parseExposition(t *testing.T, text string) map[string]*expoFamily {
	t.Helper()
	fams := map[string]*expoFamily{}
	var order []string
	cur := ""
	done := map[string]bool{} // families whose lines have ended
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("exposition does not end with a line feed")
	}
	family := func(name string) *expoFamily {
		f := fams[name]
		if f == nil {
			f = &expoFamily{name: name}
			fams[name] = f
			order = append(order, name)
		}
		if cur != name {
			if done[name] {
				t.Errorf("family %s: its lines are not together", name)
			}
			done[cur] = true
			cur = name
		}
		return f
	}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n++
		switch {
		case line == "":
			t.Errorf("line %d: empty", n)
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(line[len("# HELP "):], " ")
			if !expoMetricName.MatchString(name) {
				t.Errorf("line %d: HELP of bad name %q", n, name)
			}
			for i := 0; i < len(help); i++ {
				if help[i] == '\\' {
					if i+1 >= len(help) || (help[i+1] != '\\' && help[i+1] != 'n') {
						t.Errorf("line %d: HELP with a bad escape: %q", n, help)
					}
					i++
				}
			}
			f := family(name)
			if f.help != "" {
				t.Errorf("line %d: second HELP for %s", n, name)
			}
			if help == "" {
				t.Errorf("line %d: empty HELP for %s", n, name)
			}
			f.help = help
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(line[len("# TYPE "):], " ")
			f := family(name)
			if f.typ != "" {
				t.Errorf("line %d: second TYPE for %s", n, name)
			}
			if len(f.samples) > 0 {
				t.Errorf("line %d: TYPE for %s after its samples", n, name)
			}
			switch typ {
			case "counter", "gauge", "histogram":
			default:
				t.Errorf("line %d: TYPE %q for %s", n, typ, name)
			}
			f.typ = typ
		case strings.HasPrefix(line, "#"):
			t.Errorf("line %d: a comment: %q", n, line)
		default:
			s := parseExpoSample(t, n, line)
			base := s.name
			if f := fams[cur]; f != nil && f.typ == "histogram" {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if strings.TrimSuffix(s.name, suf) == cur {
						base = cur
					}
				}
			}
			f := family(base)
			if f.typ == "" {
				t.Errorf("line %d: sample of %s without a TYPE before it", n, base)
			}
			for _, o := range f.samples {
				if o.name == s.name && o.key == s.key {
					t.Errorf("line %d: series %s%s twice", n, s.name, s.key)
				}
			}
			f.samples = append(f.samples, s)
		}
	}
	for _, name := range order {
		f := fams[name]
		if f.typ == "" || f.help == "" {
			t.Errorf("family %s: TYPE %q HELP %q", name, f.typ, f.help)
		}
		if f.typ == "counter" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s: name does not end in _total", name)
		}
		if f.typ != "counter" && strings.HasSuffix(name, "_total") {
			t.Errorf("%s %s: only a counter's name ends in _total", f.typ, name)
		}
		if f.typ == "histogram" {
			checkExpoHistogram(t, f)
		}
	}
	return fams
}

func parseExpoSample(t *testing.T, n int, line string) expoSample {
	t.Helper()
	s := expoSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		t.Errorf("line %d: no value: %q", n, line)
		return s
	}
	s.name = line[:i]
	if !expoMetricName.MatchString(s.name) {
		t.Errorf("line %d: bad metric name %q", n, s.name)
	}
	rest := line[i:]
	var keys []string
	if rest[0] == '{' {
		rest = rest[1:]
		for len(rest) > 0 && rest[0] != '}' {
			eq := strings.IndexByte(rest, '=')
			if eq < 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
				t.Errorf("line %d: bad label in %q", n, line)
				return s
			}
			ln := rest[:eq]
			if !expoLabelName.MatchString(ln) || strings.HasPrefix(ln, "__") {
				t.Errorf("line %d: bad label name %q", n, ln)
			}
			rest = rest[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' {
					if j+1 >= len(rest) {
						break
					}
					switch rest[j+1] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						t.Errorf("line %d: bad escape in label %s: %q", n, ln, line)
					}
					j++
					continue
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				t.Errorf("line %d: label %s not closed: %q", n, ln, line)
				return s
			}
			if _, dup := s.labels[ln]; dup {
				t.Errorf("line %d: label %s twice", n, ln)
			}
			s.labels[ln] = v.String()
			keys = append(keys, ln+"="+strconv.Quote(v.String()))
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			}
		}
		if !strings.HasPrefix(rest, "}") {
			t.Errorf("line %d: labels not closed: %q", n, line)
			return s
		}
		rest = rest[1:]
	}
	slices.Sort(keys)
	s.key = "{" + strings.Join(keys, ",") + "}"
	if !strings.HasPrefix(rest, " ") {
		t.Errorf("line %d: no space before the value: %q", n, line)
		return s
	}
	fields := strings.Fields(rest)
	if len(fields) != 1 {
		t.Errorf("line %d: value %q (want one, no timestamp)", n, rest)
		return s
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		t.Errorf("line %d: value %q: %v", n, fields[0], err)
	}
	s.value = v
	return s
}

// checkExpoHistogram checks each series of a histogram: buckets by
// rising le, cumulative counts, a +Inf bucket equal to _count, a _sum.
func checkExpoHistogram(t *testing.T, f *expoFamily) {
	t.Helper()
	type series struct {
		les         []float64
		counts      []float64
		sum, count  float64
		hasSum, has bool
	}
	all := map[string]*series{}
	get := func(s expoSample, drop string) *series {
		l := map[string]string{}
		for k, v := range s.labels {
			if k != drop {
				l[k] = v
			}
		}
		key := fmt.Sprint(l)
		if all[key] == nil {
			all[key] = &series{}
		}
		return all[key]
	}
	for _, s := range f.samples {
		switch s.name {
		case f.name + "_bucket":
			le, ok := s.labels["le"]
			if !ok {
				t.Errorf("%s: bucket without le", f.name)
				continue
			}
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				t.Errorf("%s: le %q: %v", f.name, le, err)
			}
			x := get(s, "le")
			x.les = append(x.les, b)
			x.counts = append(x.counts, s.value)
		case f.name + "_sum":
			x := get(s, "")
			x.sum, x.hasSum = s.value, true
		case f.name + "_count":
			x := get(s, "")
			x.count, x.has = s.value, true
		default:
			t.Errorf("%s: sample %s", f.name, s.name)
		}
	}
	for key, x := range all {
		if len(x.les) == 0 || !math.IsInf(x.les[len(x.les)-1], 1) {
			t.Errorf("%s%s: no +Inf bucket last", f.name, key)
			continue
		}
		for i := 1; i < len(x.les); i++ {
			if x.les[i] <= x.les[i-1] {
				t.Errorf("%s%s: le %g after %g", f.name, key, x.les[i], x.les[i-1])
			}
			if x.counts[i] < x.counts[i-1] {
				t.Errorf("%s%s: buckets not cumulative", f.name, key)
			}
		}
		if !x.has || !x.hasSum {
			t.Errorf("%s%s: _count or _sum missing", f.name, key)
		}
		if x.counts[len(x.counts)-1] != x.count {
			t.Errorf("%s%s: +Inf bucket %g, _count %g", f.name, key, x.counts[len(x.counts)-1], x.count)
		}
	}
}

// TestMetricsExposition reads a running gateway's /metrics, with an MLLP
// listener that took a message, a fax inbox and an EHR folder, with the
// strict parser above.
func TestMetricsExposition(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	faxIn, ehr := filepath.Join(root, "fax"), filepath.Join(root, "ehr")
	for _, d := range []string{faxIn, ehr} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: t, listen: "127.0.0.1:0"}
  folders:
    - {name: cloudfax, kind: fax, path: %q, settle: 20ms, rescan: 200ms}
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
fax:
  source_id: 1.3.6.1.4.1.21367.2026.1
`, filepath.Join(root, "data"), faxIn, ehr, url, paths.CA, paths.ClientCert, paths.ClientKey)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	waitFor(t, "delivery", func() bool { return len(recv.Resources("Patient")) >= 1 && gw.q.Len() == 0 })

	resp, err := http.Get("http://" + gw.statusAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fams := parseExposition(t, string(b))
	for _, name := range []string{"ferry_mllp_ack_seconds", "ferry_queue_flush_seconds", "ferry_fax_incomplete_total", "ferry_delivered_total", "process_start_time_seconds"} {
		if f := fams[name]; f == nil || len(f.samples) == 0 {
			t.Errorf("no %s", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", b)
	}
}

// TestMetricsExpositionEveryPart: writeMetrics of a report with every
// part there (two listeners, every folder kind, a fax mailbox, a fetch,
// the audit trail, certificates, one unusable) reads as the format wants.
func TestMetricsExpositionEveryPart(t *testing.T) {
	now := time.Now().UTC()
	h := histogram(latency.Snapshot{Counts: make([]int64, len(latency.Buckets)+1), Sum: time.Second})
	h.Counts[3], h.Counts[len(h.Counts)-1] = 2, 1
	r := ops.Status{Now: now, Flush: h, Convert: map[string]*ops.Histogram{"hl7v2": h, "fax": h},
		Audit: &audit.Stats{Sent: 1, Pending: 2, Dropped: 3}}
	r.Queue.Oldest = now.Add(-time.Minute)
	for _, n := range []string{"lab", `odd "name" \ here`} {
		r.Sources = append(r.Sources, ops.SourceStatus{Name: n, Kind: "mllp", Accepted: 1, AckLatency: h})
	}
	for _, k := range []string{"ehr", fax.KindFax, fax.KindHylaFAX, "ccda"} {
		r.Folders = append(r.Folders, ops.FolderStatus{Name: "f-" + k, Kind: k, FaxesIncomplete: 1})
	}
	r.Mailboxes = []ops.MailboxStatus{{Name: "efax", MailboxStats: fax.MailboxStats{Taken: 2, Incomplete: 1, LastError: "x"}}}
	r.Fetches = []ops.RemoteFetch{{Folder: "f-fax", Stats: fetch.Stats{Fetched: 3}}}
	r.Certificates = []ops.CertStatus{{Use: "exchange client certificate", NotAfter: now}, {Use: "exchange CA", Error: "unreadable"}}
	var b strings.Builder
	writeMetrics(&b, r)
	writeProcessMetrics(&b, now)
	parseExposition(t, b.String())
	if t.Failed() {
		t.Logf("/metrics:\n%s", b.String())
	}
}

// TestQueueAgeAfterClockSetBack: an item queued before the clock was set
// back (a clinic PC's time synchronised after drifting ahead) is younger
// than nothing; /metrics gave its queue a negative
// ferry_queue_oldest_age_seconds and the status page a negative "Oldest
// waiting", where ferry status and the folders' age say 0.
func TestQueueAgeAfterClockSetBack(t *testing.T) {
	now := time.Now().UTC()
	r := ops.Status{Now: now}
	r.Queue.Depth, r.Queue.Oldest = 1, now.Add(time.Hour)
	var m strings.Builder
	writeMetrics(&m, r)
	fams := parseExposition(t, m.String())
	if f := fams["ferry_queue_oldest_age_seconds"]; f == nil || len(f.samples) != 1 || f.samples[0].value != 0 {
		t.Errorf("ferry_queue_oldest_age_seconds %+v, want 0", f)
	}
	var page strings.Builder
	if err := statusTmpl.Execute(&page, r); err != nil {
		t.Fatal(err)
	}
	if want := `<td id="queue-oldest">0s</td>`; !strings.Contains(page.String(), want) {
		_, cell, _ := strings.Cut(page.String(), `id="queue-oldest"`)
		cell, _, _ = strings.Cut(cell, "</td>")
		t.Errorf("status page's oldest waiting %q, want %q", cell, want)
	}
}
