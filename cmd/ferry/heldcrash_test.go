package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestHeldReleaseKilledHalfWay: `ferry held release` killed (SIGKILL, a
// power cut) after the bundle was queued and before it left the held
// store must not queue it a second time when the release is run again,
// nor when the gateway starts: a fax's ITI-65 bundle POSTs its Binary, so
// a second delivery files the document twice at the exchange. The
// release runs in a child process (this test binary again), which is
// killed once the Put returned.
func TestHeldReleaseKilledHalfWay(t *testing.T) {
	if dir := os.Getenv("FERRY_TEST_HELD_RELEASE"); dir != "" {
		heldReleaseQueued = func(string) {
			os.WriteFile(filepath.Join(dir, "queued"), nil, 0o600)
			select {} // killed here
		}
		cmdHeld(context.Background(), []string{"release", "--config", filepath.Join(dir, "ferry.yaml"), os.Getenv("FERRY_TEST_HELD_ID")}, io.Discard, io.Discard)
		os.Exit(3)
	}
	if testing.Short() {
		t.Skip("runs the release in a child process")
	}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`)
	// killed sets up a data_dir with one held bundle and leaves it as a
	// release killed after its Put leaves it.
	killed := func(t *testing.T) (dir, cfgFile, id string) {
		dir = t.TempDir()
		cfgFile = filepath.Join(dir, "ferry.yaml")
		if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		held := trackedHeld(t, filepath.Join(dir, "data", "held"), filepath.Join(dir, "data", "queue"))
		id, err := held.Put(adapters.Raw{Source: "fax/in", Format: "fax", Name: "fax1.pdf"}, &pipeline.Unit{Name: "fax", Bundle: bundle, Key: "k1"}, "R")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeldReleaseKilledHalfWay$")
		cmd.Env = append(os.Environ(), "FERRY_TEST_HELD_RELEASE="+dir, "FERRY_TEST_HELD_ID="+id)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.After(30 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, "queued")); err == nil {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("the release ended (%v) before it was killed:\n%s", err, out.String())
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("the release did not queue the bundle:\n%s", out.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
		cmd.Process.Kill()
		<-exited
		return dir, cfgFile, id
	}
	queued := func(t *testing.T, dir string) int {
		t.Helper()
		q, err := diskq.Open(filepath.Join(dir, "data", "queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		return q.Len()
	}

	t.Run("released again", func(t *testing.T) {
		dir, cfgFile, id := killed(t)
		var out bytes.Buffer
		err := cmdHeld(context.Background(), []string{"release", "--config", cfgFile, id}, &out, io.Discard)
		t.Logf("second release: %v\n%s", err, out.String())
		if n := queued(t, dir); n != 1 {
			t.Errorf("the queue holds %d copies of the bundle, want 1", n)
		}
		held, _ := pipeline.OpenHeld(filepath.Join(dir, "data", "held"))
		if ids, _ := held.List(); len(ids) != 0 {
			t.Errorf("still held: %v", ids)
		}
	})
	t.Run("discarded", func(t *testing.T) {
		dir, cfgFile, id := killed(t)
		var out bytes.Buffer
		err := cmdHeld(context.Background(), []string{"discard", "--yes", "--config", cfgFile, id}, &out, io.Discard)
		// The discard finishes the release first, as the gateway's start
		// does, and says the bundle is queued, not discarded.
		if err == nil || !strings.Contains(err.Error(), "not held any more") || !strings.Contains(err.Error(), "ferry held release") {
			t.Errorf("discard of a bundle a release queued: %v\n%s", err, out.String())
		}
		held, _ := pipeline.OpenHeld(filepath.Join(dir, "data", "held"))
		if ids, _ := held.List(); len(ids) != 0 {
			t.Errorf("held: %v, want the release finished", ids)
		}
		if n := queued(t, dir); n != 1 {
			t.Errorf("the queue holds %d copies of the bundle, want 1", n)
		}
	})
	// The gateway's start finishes the release: the trail must show that
	// a person let restricted data go, as the release would have (the
	// held-release event, its bundle, patient and queue item), through
	// the gateway's own audit sink, saying it was finished at start, and
	// naming that person (the account that ran the release), not
	// "unknown".
	t.Run("gateway start audited", func(t *testing.T) {
		dir, _, id := killed(t)
		repo := newUDPRepo(t)
		cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
`, filepath.Join(dir, "data"), repo.URL())
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pend := q.Pending(0)
		q.Close(context.Background())
		if len(pend) != 1 {
			t.Fatalf("queued before the start: %v", pend)
		}
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Every event up to the gateway's start, read while the sink
		// runs (a stop before its sender has dialled spools what is
		// queued for the next start), then up to its stop, the last it
		// records.
		var release []string
		upTo := func(code string) {
			for {
				ev := repo.next()
				if strings.Contains(ev, `csd-code="`+code+`"`) {
					return
				}
				if strings.Contains(ev, "held-release") {
					release = append(release, ev)
				}
			}
		}
		upTo("110120")
		if err := gw.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		upTo("110121")
		if len(release) != 1 {
			t.Fatalf("%d held-release events at the gateway's start, want 1", len(release))
		}
		wantIn(t, "the finished release's event", release[0], `ParticipantObjectID="`+id+`"`, `ParticipantObjectID="k1"`,
			`ParticipantObjectID="`+pend[0].ID+`"`, `type="security-label" value="Ug=="`, "finished at the gateway&#39;s start", `AuditSourceID="clinic-7-ferry"`,
			`UserID="`+me(t)+`"`)
		if strings.Contains(release[0], `UserID="unknown"`) {
			t.Errorf("the finished release's event names the person unknown:\n%s", release[0])
		}
	})
	// A start that fails after the release was finished (here a
	// mailbox's ca_file that holds no certificate; in a restart loop,
	// every start) must keep its event for the next start to send: the
	// release's record is gone, and no later start records it again.
	t.Run("gateway start failed, event kept", func(t *testing.T) {
		dir, _, id := killed(t)
		repo := newUDPRepo(t)
		bad := filepath.Join(dir, "notacert.pem")
		if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		pw := filepath.Join(dir, "pw")
		if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  mailboxes:
    - name: efax
      address: "127.0.0.1:993"
      username: faxes
      source_id: 1.3.6.1.4.1.21367.2026.9
      password_file: %q
      tls: {ca_file: %q}
`, filepath.Join(dir, "data"), repo.URL(), pw, bad)
		if _, err := newGateway(cfg, newLogger(io.Discard, "error")); err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Fatalf("the gateway started with an unusable ca_file: %v", err)
		}
		// On disk once the failed start returned (the process ends
		// there): what was in memory only is lost.
		spooled := int64(0)
		filepath.WalkDir(cfg.Path("audit", "spool"), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					spooled += fi.Size()
				}
			}
			return nil
		})
		if spooled == 0 {
			t.Fatal("the failed start left nothing in the audit spool: the finished release's event was lost")
		}
		cfg = parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
`, filepath.Join(dir, "data"), repo.URL())
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Shutdown(context.Background()) })
		// The spooled event is sent once the sink runs; the one wait
		// is repo.next's, which fails the test when nothing comes.
		for {
			ev := repo.next()
			if strings.Contains(ev, "held-release") {
				wantIn(t, "the finished release's event", ev, `ParticipantObjectID="`+id+`"`, "finished at the gateway&#39;s start")
				return
			}
		}
	})
	t.Run("gateway started, then released again", func(t *testing.T) {
		dir, cfgFile, id := killed(t)
		cfg, err := config.Load(cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, held, err := ingestPipeline(cfg, q, seen, nil, converters(cfg), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := held.List()
		seen.Close()
		q.Close(context.Background())
		if len(ids) != 0 {
			t.Errorf("the gateway started with the bundle both queued and still held: %v", ids)
		}
		var out bytes.Buffer
		err = cmdHeld(context.Background(), []string{"release", "--config", cfgFile, id}, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no held bundle") {
			t.Errorf("second release: %v\n%s", err, out.String())
		}
		if n := queued(t, dir); n != 1 {
			t.Errorf("the queue holds %d copies of the bundle, want 1", n)
		}
	})
}
