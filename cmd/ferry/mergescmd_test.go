package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/seal"
)

const mergeSys = "urn:oid:2.16.840.1.113883.19.5.99999.2"

// mergesSite writes a configuration (sealed with a key file when sealed)
// whose merges.log retires MRN-RES1 into MRN-SURV1 and MRN-X into
// MRN-Y, and returns its file, the configuration and the key (nil when
// not sealed).
func mergesSite(t *testing.T, sealed bool, extra string) (string, *config.Config, *seal.Key) {
	t.Helper()
	dir := t.TempDir()
	y := "data_dir: " + filepath.Join(dir, "data") + "\nidentifiers:\n  systems:\n    HOSP: " + mergeSys + "\n" + extra
	var key *seal.Key
	if sealed {
		kf := filepath.Join(dir, "ferry.key")
		k, err := seal.GenerateKeyFile(kf)
		if err != nil {
			t.Fatal(err)
		}
		key = k
		y += "encryption:\n  key_file: " + kf + "\n"
	}
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := merges.Open(cfg.Path("merges.log"), merges.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][2]string{{"MRN-RES1", "MRN-SURV1"}, {"MRN-X", "MRN-Y"}} {
		if err := reg.Record(merges.Merge{Retired: merges.ID{System: mergeSys, Value: m[0]}, Survivor: merges.ID{System: mergeSys, Value: m[1]}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	return cfgFile, cfg, key
}

// runMerges runs `ferry merges ARGS` through runMain, as a person would,
// and returns its exit status, stdout and stderr.
func runMerges(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), append([]string{"merges"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// patientKeyOf is the key ferry names a patient by where PHI may not go:
// the queue's, the audit events'.
func patientKeyOf(key *seal.Key, value string) string {
	k := fhir.PatientKey(mergeSys, value)
	if key != nil {
		k = key.Pseudonym(k)
	}
	return k
}

// TestMergesListAndUndo: `ferry merges list` names the merges by patient
// key (the one queue and audit use, keyed when data at rest is sealed)
// and shows identifiers only with --phi; `ferry merges undo KEY --yes`
// takes one merge back durably (the registry reopened no longer ties
// the identifier to the survivor, the other merge stays), prints what is
// left to do at the exchange without PHI, and refuses without --yes, for
// an identifier not retired (exit 1) and without an identifier (exit 2).
func TestMergesListAndUndo(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(t *testing.T) {
			cfgFile, cfg, key := mergesSite(t, sealed, "")
			res, surv := patientKeyOf(key, "MRN-RES1"), patientKeyOf(key, "MRN-SURV1")
			code, out, errs := runMerges(t, "list", "--config", cfgFile)
			if code != 0 {
				t.Fatalf("list: exit %d\n%s%s", code, out, errs)
			}
			for _, want := range []string{res, surv, patientKeyOf(key, "MRN-X"), "2 merge(s)", "--phi"} {
				if !strings.Contains(out, want) {
					t.Errorf("list lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out+errs, "MRN-") {
				t.Errorf("list without --phi shows an identifier:\n%s%s", out, errs)
			}
			code, out, _ = runMerges(t, "list", "--phi", "--config", cfgFile)
			if code != 0 || !strings.Contains(out, mergeSys+"|MRN-RES1") || !strings.Contains(out, mergeSys+"|MRN-SURV1") {
				t.Errorf("list --phi: exit %d\n%s", code, out)
			}

			before, _ := os.ReadFile(cfg.Path("merges.log"))
			code, out, errs = runMerges(t, "undo", res, "--config", cfgFile)
			if code != 1 || !strings.Contains(errs, "--yes") {
				t.Errorf("undo without --yes: exit %d\n%s%s", code, out, errs)
			}
			if after, _ := os.ReadFile(cfg.Path("merges.log")); !bytes.Equal(before, after) {
				t.Error("undo without --yes changed merges.log")
			}
			if code, _, errs := runMerges(t, "undo", "--yes", "--config", cfgFile); code != 2 {
				t.Errorf("undo without an identifier: exit %d, want 2\n%s", code, errs)
			}

			// A survivor is not retired: nothing to undo, and it says why.
			code, _, errs = runMerges(t, "undo", surv, "--yes", "--config", cfgFile)
			if code != 1 || !strings.Contains(errs, "1 record(s) were merged into the one given") {
				t.Errorf("undo of a survivor: exit %d\n%s", code, errs)
			}
			code, out, errs = runMerges(t, "undo", res, "--yes", "--config", cfgFile)
			if code != 0 {
				t.Fatalf("undo: exit %d\n%s%s", code, out, errs)
			}
			for _, want := range []string{res, surv, "inactive", "replaced-by", "A08", "exchange"} {
				if !strings.Contains(out, want) {
					t.Errorf("undo output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out+errs, "MRN-") {
				t.Errorf("undo without --phi shows an identifier:\n%s%s", out, errs)
			}
			reg, err := merges.Open(cfg.Path("merges.log"), merges.Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if s, ok, _ := reg.Survivor(merges.ID{System: mergeSys, Value: "MRN-RES1"}); ok {
				t.Errorf("MRN-RES1 still retired into %s after the undo", s.Value)
			}
			if s, ok, _ := reg.Survivor(merges.ID{System: mergeSys, Value: "MRN-X"}); !ok || s.Value != "MRN-Y" {
				t.Errorf("MRN-X: %v %v; the other merge must stay", s, ok)
			}
			reg.Close()

			code, _, errs = runMerges(t, "undo", res, "--yes", "--config", cfgFile)
			if code != 1 || !strings.Contains(errs, "not retired") {
				t.Errorf("undo again: exit %d\n%s", code, errs)
			}
			// The other form: SYSTEM|VALUE, as list --phi shows it.
			code, out, errs = runMerges(t, "undo", mergeSys+"|MRN-X", "--yes", "--phi", "--config", cfgFile)
			if code != 0 || !strings.Contains(out, "MRN-Y") {
				t.Errorf("undo SYSTEM|VALUE --phi: exit %d\n%s%s", code, out, errs)
			}
			code, out, _ = runMerges(t, "list", "--config", cfgFile)
			if code != 0 || !strings.Contains(out, "no merges") {
				t.Errorf("list after both undone: exit %d\n%s", code, out)
			}
		})
	}
}

// TestMergesUndoNeedsGatewayStopped: while a gateway holds the data
// folder (the queue's lock) its merge registry lives in its memory, so
// an undo is refused, saying to stop it, and merges.log is unchanged;
// list still reads.
func TestMergesUndoNeedsGatewayStopped(t *testing.T) {
	cfgFile, cfg, _ := mergesSite(t, false, "")
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	before, _ := os.ReadFile(cfg.Path("merges.log"))
	code, _, errs := runMerges(t, "undo", patientKeyOf(nil, "MRN-RES1"), "--yes", "--config", cfgFile)
	if code != 1 || !strings.Contains(errs, "gateway is running") || !strings.Contains(errs, "ferry stop") {
		t.Errorf("undo beside a running gateway: exit %d\n%s", code, errs)
	}
	if after, _ := os.ReadFile(cfg.Path("merges.log")); !bytes.Equal(before, after) {
		t.Error("refused undo changed merges.log")
	}
	if code, out, errs := runMerges(t, "list", "--config", cfgFile); code != 0 || !strings.Contains(out, "2 merge(s)") {
		t.Errorf("list beside a running gateway: exit %d\n%s%s", code, out, errs)
	}
}

// TestMergesUndoRefilesLaterInputs: what the exchange sees. Before the
// undo an ADT^A08 under the retired MRN is queued under the survivor's
// key; after it, with the gateway's wiring, under its own patient's, and
// its Patient is written again (no longer only referred to).
func TestMergesUndoRefilesLaterInputs(t *testing.T) {
	cfgFile, cfg, _ := mergesSite(t, false, "")
	a08 := func(ctl string) adapters.Raw {
		return adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: ctl, Received: time.Now(), Body: []byte("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401090000||ADT^A08^ADT_A01|" + ctl + "|P|2.5\r" +
			"EVN|A08|20240401085900\rPID|1||MRN-RES1^^^HOSP^MR||Split^Pat||19700101|F\rPV1|1|O\r")}
	}
	queued := func(in adapters.Raw) string {
		t.Helper()
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer seen.Close()
		convs := converters(cfg)
		pipe, _, err := ingestPipeline(cfg, q, seen, nil, convs, newLogger(io.Discard, "error"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := openMerges(cfg, nil, convs, pipe, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		if err := pipe.Consume(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ack(context.Background(), nil)
		return it.Key
	}
	if k := queued(a08("B1")); k != fhir.PatientKey(mergeSys, "MRN-SURV1") {
		t.Fatalf("before the undo the A08 is queued under %s, want the survivor's key", k)
	}
	if code, out, errs := runMerges(t, "undo", mergeSys+"|MRN-RES1", "--yes", "--config", cfgFile); code != 0 {
		t.Fatalf("undo: exit %d\n%s%s", code, out, errs)
	}
	if k := queued(a08("A1")); k != fhir.PatientKey(mergeSys, "MRN-RES1") {
		t.Errorf("after the undo the A08 is queued under %s, want its own patient's key %s", k, fhir.PatientKey(mergeSys, "MRN-RES1"))
	}
}

// TestMergesOpsAudited: an undo and a listing with --phi (which shows
// chart numbers) each reach a real syslog receiver, naming the person;
// the undo names the retired patient by key, never the MRN.
func TestMergesOpsAudited(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL(), "")
	reg, err := merges.Open(cfg.Path("merges.log"), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg.Record(merges.Merge{Retired: merges.ID{System: mergeSys, Value: "MRN-RES1"}, Survivor: merges.ID{System: mergeSys, Value: "MRN-SURV1"}})
	reg.Close()
	res := fhir.PatientKey(mergeSys, "MRN-RES1")
	if code, out, errs := runMerges(t, "list", "--phi", "--config", cfgFile); code != 0 {
		t.Fatalf("list --phi: exit %d\n%s%s", code, out, errs)
	}
	wantIn(t, "list --phi event", repo.next(), `csd-code="110110"`, `EventActionCode="R"`, `csd-code="merge-read"`,
		`UserID="`+me(t)+`"`, `csd-code="merge-registry"`)
	if code, out, errs := runMerges(t, "undo", res, "--yes", "--config", cfgFile); code != 0 {
		t.Fatalf("undo: exit %d\n%s%s", code, out, errs)
	}
	ev := repo.next()
	wantIn(t, "undo event", ev, `csd-code="110110"`, `EventActionCode="U"`, `EventOutcomeIndicator="0"`, `csd-code="merge-undo"`,
		`UserID="`+me(t)+`"`, `csd-code="humanuser"`, `ParticipantObjectID="`+res+`"`, fhir.PatientKey(mergeSys, "MRN-SURV1"))
	if strings.Contains(ev, "MRN-") {
		t.Errorf("undo event names an MRN:\n%s", ev)
	}
}
