package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/merges"
)

const (
	mergeA40 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M40|P|2.5\r" +
		"EVN|A40|20240321085900\r" +
		"PID|1||55501^^^HOSP^MR||ONeil^Sean||20010101|M\r" +
		"MRG|55999^^^HOSP^MR\r"
	lateORU = "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240322090000||ORU^R01^ORU_R01|L7|P|2.5\r" +
		"PID|1||55999^^^HOSP^MR||ONeal^Shawn||20010101|M\r" +
		"OBR|1|ORD7|FIL7|2345-7^Glucose^LN|||20240322080000\r" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F\r"
)

// mergeGateway is the ingest side of a gateway over one data_dir: the
// disk queue, dedup.log and merges.log, as cmd/ferry opens them.
type mergeGateway struct {
	dir  string
	p    *Pipeline
	q    *diskq.Queue
	reg  *merges.Registry
	conv *v2fhir.Converter
	log  *bytes.Buffer
}

func openMergeGateway(t *testing.T, dir string) *mergeGateway {
	t.Helper()
	g := &mergeGateway{dir: dir, log: &bytes.Buffer{}}
	var err error
	if g.q, err = diskq.Open(filepath.Join(dir, "queue"), diskq.Options{}); err != nil {
		t.Fatal(err)
	}
	seen, err := dedup.Open(filepath.Join(dir, "dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.reg, err = merges.Open(filepath.Join(dir, "merges.log"), merges.Options{}); err != nil {
		t.Fatal(err)
	}
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	g.conv = &v2fhir.Converter{Systems: map[string]string{"HOSP": "urn:oid:2.16.840.1.113883.3.999.1"}, Location: time.UTC, Merges: g.reg}
	h := HL7{Conv: g.conv}
	log := slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g.p = New(g.q, seen, quar, map[string]Converter{"hl7v2": h, "hl7v2-batch": h}, log)
	g.p.SetMerges(g.reg)
	t.Cleanup(func() {
		g.q.Close(context.Background())
		seen.Close()
		g.reg.Close()
	})
	return g
}

func (g *mergeGateway) consume(t *testing.T, format, body string) error {
	t.Helper()
	return g.p.Consume(context.Background(), adapters.Raw{Source: "mllp/main", Format: format, Name: "conn 1", Body: []byte(body), Received: time.Now()})
}

// next returns the next queued bundle's entries.
func (g *mergeGateway) next(t *testing.T) []struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  struct{ Method, URL string }
} {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	it, ack, err := g.q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, nil)
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  struct{ Method, URL string }
		} `json:"entry"`
	}
	if err := json.Unmarshal(it.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Entry
}

// observationSubjects returns the subjects of the Observations and the
// request URLs of the Patients in entries.
func observationSubjects(t *testing.T, entries []struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  struct{ Method, URL string }
}) (subjects, patients []string) {
	for _, e := range entries {
		var r struct {
			ResourceType string
			Subject      struct{ Reference string }
		}
		json.Unmarshal(e.Resource, &r)
		switch r.ResourceType {
		case "Observation":
			subjects = append(subjects, r.Subject.Reference)
		case "Patient":
			patients = append(patients, e.Request.URL)
		}
	}
	return subjects, patients
}

// TestPipelineTiesLateResultToSurvivor: through the real pipeline over
// a data_dir, an A40 is recorded in merges.log before it is acknowledged
// (and survives a restart), and a result that arrives afterwards under
// the retired MRN is queued for the survivor, logged without PHI and
// counted.
func TestPipelineTiesLateResultToSurvivor(t *testing.T) {
	dir := t.TempDir()
	g := openMergeGateway(t, dir)
	if err := g.consume(t, "hl7v2", mergeA40); err != nil {
		t.Fatal(err)
	}
	if g.reg.Len() != 1 {
		t.Fatalf("merges.log holds %d merges after the A40 was acknowledged, want 1", g.reg.Len())
	}
	a40 := g.next(t)
	_, pats := observationSubjects(t, a40)
	survivor, retired := pats[0], pats[1]
	// A restart: the merge is read back from data_dir.
	g.q.Close(context.Background())
	g.reg.Close()
	g = openMergeGateway(t, dir)
	if err := g.consume(t, "hl7v2", lateORU); err != nil {
		t.Fatal(err)
	}
	subjects, pats := observationSubjects(t, g.next(t))
	if len(subjects) != 1 || subjects[0] != survivor {
		t.Errorf("late result's subjects %v, want the survivor %s", subjects, survivor)
	}
	for _, p := range pats {
		if p == retired {
			t.Errorf("late result rewrites the retired Patient %s", retired)
		}
	}
	if n := g.p.Stats().Retied.Load(); n != 1 {
		t.Errorf("Stats.Retied = %d, want 1", n)
	}
	logs := g.log.String()
	if !strings.Contains(logs, "tied to the surviving patient") || !strings.Contains(logs, "MSH-10 L7") {
		t.Errorf("no INFO line naming the message: %s", logs)
	}
	for _, phi := range []string{"55999", "55501", "ONeal", "ONeil"} {
		if strings.Contains(logs, phi) {
			t.Errorf("log holds %q: %s", phi, logs)
		}
	}
}

// TestBatchMergeThenResult: a batch file whose A40 is followed by a
// result under the retired MRN ties that result to the survivor too,
// though the pipeline records the merge only when it stores the file.
func TestBatchMergeThenResult(t *testing.T) {
	g := openMergeGateway(t, t.TempDir())
	if err := g.consume(t, "hl7v2-batch", mergeA40+"\n"+lateORU); err != nil {
		t.Fatal(err)
	}
	_, pats := observationSubjects(t, g.next(t))
	subjects, _ := observationSubjects(t, g.next(t))
	if len(subjects) != 1 || subjects[0] != pats[0] {
		t.Errorf("result after the A40 in one batch: subjects %v, want the survivor %s", subjects, pats[0])
	}
	if g.reg.Len() != 1 {
		t.Errorf("merges.log holds %d merges, want 1", g.reg.Len())
	}
}

// TestMergeNotRecordedIsNotAcknowledged: when merges.log cannot take
// the merge, the A40 is neither queued nor quarantined, and the error is
// not permanent: the source answers AR and the sender sends it again.
func TestMergeNotRecordedIsNotAcknowledged(t *testing.T) {
	g := openMergeGateway(t, t.TempDir())
	g.reg.Close()
	err := g.consume(t, "hl7v2", mergeA40)
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("Consume with merges.log closed: %v, want a transient error", err)
	}
	if g.q.Len() != 0 || g.p.Stats().Quarantined.Load() != 0 {
		t.Errorf("A40 whose merge was not recorded: %d queued, %d quarantined", g.q.Len(), g.p.Stats().Quarantined.Load())
	}
}
