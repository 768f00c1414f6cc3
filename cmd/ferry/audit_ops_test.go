package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport/audit"
)

// udpRepo is a real syslog receiver (RFC 5426) for audit events.
type udpRepo struct {
	t  *testing.T
	pc net.PacketConn
}

func newUDPRepo(t *testing.T) *udpRepo {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &udpRepo{t: t, pc: pc}
}

func (r *udpRepo) URL() string { return "udp://" + r.pc.LocalAddr().String() }

// next returns the next audit message's XML; the deadline only stops a
// hung test.
func (r *udpRepo) next() string {
	r.t.Helper()
	buf := make([]byte, 1<<16)
	r.pc.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, _, err := r.pc.ReadFrom(buf)
	if err != nil {
		r.t.Fatalf("no audit event: %v", err)
	}
	m, err := audit.Parse(buf[:n])
	if err != nil {
		r.t.Fatal(err)
	}
	return string(m.Msg)
}

func wantIn(t *testing.T, what, ev string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(ev, w) {
			t.Errorf("%s lacks %s:\n%s", what, w, ev)
		}
	}
}

func me(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// auditCfgFile writes a configuration with audit to url (and extra YAML).
func auditCfgFile(t *testing.T, dir, url, extra string) (string, *config.Config) {
	t.Helper()
	p := filepath.Join(dir, "ferry.yaml")
	y := fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\naudit:\n  url: %q\n  source_id: clinic-7-ferry\n%s",
		filepath.Join(dir, "data"), freeAddr(t), url, extra)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	return p, cfg
}

func putHeld(t *testing.T, cfg *config.Config, key, label string) string {
	t.Helper()
	held := trackedHeld(t, cfg.Path("held"), cfg.Path("queue"))
	in := adapters.Raw{Source: "folder/fax", Format: "fax", Name: "DOE_JANE_MRN777123.tif"}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction"}`)
	id, err := held.Put(in, &pipeline.Unit{Name: "document", Bundle: bundle, Key: key, Attrs: map[string]string{"control_id": "CTL-9"}}, label)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHeldReleaseAudited: releasing a held bundle (a disclosure policy
// override) and discarding one each reach a real syslog receiver, naming
// the person, the patient key and the bundle, never the file name.
func TestHeldReleaseAudited(t *testing.T) {
	repo := newUDPRepo(t)
	cfgFile, cfg := auditCfgFile(t, t.TempDir(), repo.URL(), "")
	rel := putHeld(t, cfg, "k-rel", "42CFRPart2")
	dis := putHeld(t, cfg, "k-dis", "R")
	var out, errb bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", rel, "--config", cfgFile}, &out, &errb); err != nil {
		t.Fatalf("release: %v\n%s%s", err, out.String(), errb.String())
	}
	ev := repo.next()
	wantIn(t, "release event", ev, `csd-code="110106"`, `EventActionCode="R"`, `EventOutcomeIndicator="0"`, `csd-code="held-release"`,
		`UserID="`+me(t)+`"`, `UserIsRequestor="true"`, `csd-code="humanuser"`, `UserID="clinic-7-ferry"`,
		`ParticipantObjectID="k-rel"`, `ParticipantObjectID="`+rel+`"`, `csd-code="held-bundle"`, `released from hold (42CFRPart2)`)
	// The queue item it became is named too, so the later delivery
	// (Export with the same bundle id) pairs with it.
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	it, _, err := q.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	wantIn(t, "release event", ev, `ParticipantObjectID="`+it.ID+`"`)

	if err := cmdHeld(context.Background(), []string{"discard", dis, "--yes", "--config", cfgFile}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	ev2 := repo.next()
	wantIn(t, "discard event", ev2, `csd-code="110110"`, `EventActionCode="D"`, `csd-code="held-discard"`, `ParticipantObjectID="k-dis"`,
		`ParticipantObjectID="`+dis+`"`, `UserID="`+me(t)+`"`)
	for _, e := range []string{ev, ev2} {
		if strings.Contains(e, "DOE") || strings.Contains(e, ".tif") {
			t.Errorf("event names the file:\n%s", e)
		}
	}
}

// TestHeldReleaseRefusedUnaudited: with audit configured but its TLS
// files unreadable, a release is refused and the bundle stays held; with
// the repository merely down, it proceeds and the event waits, fsynced,
// in the hand-off folder for the gateway.
func TestHeldReleaseRefusedUnaudited(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, cfg := auditCfgFile(t, dir, "tls://"+freeAddr(t), fmt.Sprintf("  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n",
		p.CA, p.ClientCert, p.ClientKey))
	id := putHeld(t, cfg, "k1", "R")
	os.Rename(p.ClientKey, p.ClientKey+".gone")
	err = cmdHeld(context.Background(), []string{"release", id, "--config", cfgFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "audit trail") {
		t.Fatalf("release without a writable audit trail: %v", err)
	}
	held, _ := pipeline.OpenHeld(cfg.Path("held"))
	if ids, _ := held.List(); len(ids) != 1 {
		t.Fatalf("refused release changed the held store: %v", ids)
	}
	if _, err := os.Stat(cfg.Path("queue")); err == nil {
		if snap, err := diskq.Inspect(cfg.Path("queue"), "", 1); err == nil && snap.Stats.Depth != 0 {
			t.Fatalf("refused release queued %d item(s)", snap.Stats.Depth)
		}
	}

	os.Rename(p.ClientKey+".gone", p.ClientKey)
	var errb bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", id, "--config", cfgFile}, io.Discard, &errb); err != nil {
		t.Fatalf("release with the repository down: %v", err)
	}
	if !strings.Contains(errb.String(), "1 audit event(s) kept in") {
		t.Errorf("operator not told the event waits: %q", errb.String())
	}
	files, _ := os.ReadDir(cfg.Path("audit", "handoff"))
	if len(files) != 1 {
		t.Fatalf("hand-off folder holds %d file(s), want 1", len(files))
	}
}

// deadLettersWithKeys dead-letters n items with patient keys.
func deadLettersWithKeys(t *testing.T, cfg *config.Config, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, deadLetter(t, cfg, &queue.Item{Key: fmt.Sprintf("pk-%d", i), Source: "mllp/main",
			Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"control_id": fmt.Sprintf("CTL-%d", i)}}))
	}
	return ids
}

// TestDeadLetterOpsAudited: `ferry queue show`, retry and purge on a
// stopped gateway's queue each reach a real syslog receiver.
func TestDeadLetterOpsAudited(t *testing.T) {
	repo := newUDPRepo(t)
	cfgFile, cfg := auditCfgFile(t, t.TempDir(), repo.URL(), "")
	ids := deadLettersWithKeys(t, cfg, 2)

	if out, err := runQueue(t, "show", ids[0], "--body", "--config", cfgFile); err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	wantIn(t, "show event", repo.next(), `csd-code="110110"`, `EventActionCode="R"`, `csd-code="dead-letter-read"`,
		`ParticipantObjectID="pk-0"`, `ParticipantObjectID="`+ids[0]+`"`, `UserID="`+me(t)+`"`)
	if out, err := runQueue(t, "retry", ids[0], "--config", cfgFile); err != nil {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	wantIn(t, "retry event", repo.next(), `EventActionCode="U"`, `csd-code="dead-letter-retry"`, `ParticipantObjectID="pk-0"`)
	if out, err := runQueue(t, "purge", ids[1], "--config", cfgFile); err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	wantIn(t, "purge event", repo.next(), `csd-code="110110"`, `EventActionCode="D"`, `EventOutcomeIndicator="0"`, `csd-code="dead-letter-purge"`,
		`ParticipantObjectID="pk-1"`, `ParticipantObjectID="`+ids[1]+`"`, `UserID="`+me(t)+`"`, `csd-code="humanuser"`)
	// A failed purge is recorded as failed.
	if _, err := runQueue(t, "purge", "01NOSUCHID0000000000000000", "--config", cfgFile); err == nil {
		t.Fatal("purge of an unknown id succeeded")
	}
	wantIn(t, "failed purge event", repo.next(), `EventOutcomeIndicator="4"`, `ParticipantObjectID="01NOSUCHID0000000000000000"`)
}

// TestOpsAPIAudited: while a gateway holds the queue, show --body and
// purge go through its ops API, and the gateway records them: "ops-api",
// the account the client names, its address.
func TestOpsAPIAudited(t *testing.T) {
	repo := newUDPRepo(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	y := fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\naudit:\n  url: %q\n  source_id: clinic-7-ferry\n",
		filepath.Join(dir, "data"), strings.TrimPrefix(srv.URL, "http://"), repo.URL())
	os.WriteFile(cfgFile, []byte(y), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	ids := deadLettersWithKeys(t, cfg, 2)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
	if g.audit, err = g.newAuditTrail(); err != nil {
		t.Fatal(err)
	}
	g.audit.Start(context.Background())
	defer g.audit.Shutdown(context.Background())
	g.registerOps(mux)

	if out, err := runQueue(t, "show", ids[0], "--body", "--config", cfgFile); err != nil {
		t.Fatalf("show through gateway: %v\n%s", err, out)
	}
	wantIn(t, "API read event", repo.next(), `csd-code="dead-letter-read"`, `EventActionCode="R"`, `UserID="ops-api"`,
		`AlternativeUserID="`+me(t), `NetworkAccessPointID="127.0.0.1"`, `ParticipantObjectID="pk-0"`)
	if out, err := runQueue(t, "purge", ids[1], "--config", cfgFile); err != nil {
		t.Fatalf("purge through gateway: %v\n%s", err, out)
	}
	wantIn(t, "API purge event", repo.next(), `csd-code="dead-letter-purge"`, `EventActionCode="D"`, `EventOutcomeIndicator="0"`,
		`UserID="ops-api"`, `ParticipantObjectID="pk-1"`, `ParticipantObjectID="`+ids[1]+`"`)
}

// TestBackfillAudited: backfilled inputs produce the same Import events as
// live ingest (by content hash, never the file name), naming the person
// who ran it and the folder they came from as their Source Media;
// exchange.hold applies to them, and the hold is audited.
func TestBackfillAudited(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	exp := filepath.Join(dir, "export")
	os.MkdirAll(exp, 0o755)
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	os.WriteFile(filepath.Join(exp, "DOE_PAT_MRN9.hl7"), []byte(restricted), 0o644)
	os.WriteFile(filepath.Join(exp, "ROE_JANE_1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)), 0o644)
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL(), "exchange:\n  hold: [R]\n")
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 bundle(s) kept back by exchange.hold") {
		t.Errorf("backfill output:\n%s", out.String())
	}
	held, _ := pipeline.OpenHeld(cfg.Path("held"))
	if ids, _ := held.List(); len(ids) != 1 {
		t.Fatalf("held after backfill: %v", ids)
	}
	var imports, holds int
	for i := 0; i < 3; i++ {
		ev := repo.next()
		// Never the file names (they carry the patient's name and chart
		// number); the patient is named by its identifier, in CX form.
		for _, bad := range []string{"DOE_PAT", "ROE_JANE", "MRN9"} {
			if strings.Contains(ev, bad) {
				t.Errorf("event carries %s:\n%s", bad, ev)
			}
		}
		switch {
		case strings.Contains(ev, `csd-code="110107"`):
			imports++
			wantIn(t, "backfill import", ev, `EventActionCode="C"`, `UserID="`+me(t)+`"`, `csd-code="humanuser"`,
				`csd-code="input-sha256"`, `ParticipantObjectID="sha256:`, `codeSystemName="RFC-3881" originalText="Patient Number"`,
				// The folder the files were taken from is the Source
				// Media of the import (DICOM PS3.15 A.5.3.5).
				`<ActiveParticipant UserID="file:`+exp+`" UserIsRequestor="false"><RoleIDCode csd-code="110155" codeSystemName="DCM" originalText="Source Media"></RoleIDCode><MediaIdentifier><MediaType csd-code="110037"`)
		case strings.Contains(ev, `held by policy: R`):
			holds++
		}
	}
	if imports != 2 || holds != 1 {
		t.Errorf("%d import and %d hold event(s), want 2 and 1", imports, holds)
	}
}

// TestOpsAPIWrongTokenAudited: requests to the ops API with a wrong or
// missing token are refused, logged and recorded as failed logins (User
// Authentication / Login, outcome 4) naming the caller's address and the
// account it claimed; a burst from one host makes one report, not one per
// request.
func TestOpsAPIWrongTokenAudited(t *testing.T) {
	repo := newUDPRepo(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	cfg := parseConfig(t, "data_dir: %q\naudit:\n  url: %q\n  source_id: clinic-7-ferry\n",
		filepath.Join(dir, "data"), repo.URL())
	os.MkdirAll(cfg.DataDir, 0o700)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	var logs lockedBuffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info"), q: q}
	if g.audit, err = g.newAuditTrail(); err != nil {
		t.Fatal(err)
	}
	g.audit.Start(context.Background())
	defer g.audit.Shutdown(context.Background())
	g.registerOps(mux)

	for i := range 3 {
		req, _ := http.NewRequest("POST", srv.URL+"/api/ops/deadletters/01ABC/purge", nil)
		req.Header.Set("Authorization", "Bearer not-the-token")
		req.Header.Set(ops.OperatorHeader, "mallory")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d, want 401", i, resp.StatusCode)
		}
	}
	wantIn(t, "failed login event", repo.next(), `csd-code="110114"`, `csd-code="110122"`, `EventActionCode="E"`,
		`EventOutcomeIndicator="4"`, `UserID="ops-api"`, `AlternativeUserID="mallory"`, `NetworkAccessPointID="127.0.0.1"`,
		`missing or wrong ops token for POST /api/ops/deadletters/01ABC/purge`)
	if n := strings.Count(logs.String(), "ops api request refused"); n != 1 {
		t.Errorf("%d log lines for a burst of 3 refusals, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "not-the-token") {
		t.Error("the presented token was logged")
	}
	// The live backup's snapshot (every patient's data) is refused and
	// recorded the same way.
	req, _ := http.NewRequest("POST", srv.URL+"/api/ops/backup/snapshot", nil)
	req.Header.Set("Authorization", "Bearer not-the-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("snapshot with a wrong token: status %d, want 401", resp.StatusCode)
	}
	wantIn(t, "failed login event (snapshot)", repo.next(), `csd-code="110114"`, `EventOutcomeIndicator="4"`,
		`missing or wrong ops token for POST /api/ops/backup/snapshot`)
	if _, err := os.Stat(filepath.Join(cfg.DataDir, ops.SnapshotDir)); !os.IsNotExist(err) {
		t.Errorf("a refused request made a snapshot: %v", err)
	}
}
