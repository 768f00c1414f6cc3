package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestLiveBackup: `ferry backup` beside a running gateway that takes MLLP
// messages on four connections (its exchange down, so they wait in the
// queue) writes an archive without stopping it. Restored into a new data
// folder, the queue holds every message acknowledged before the command
// started, none damaged; the snapshot is gone from the data folder
// afterwards, and the gateway took messages throughout. A second backup
// while one holds the snapshot is refused; a snapshot whose command went
// away without releasing it is removed.
func TestLiveBackup(t *testing.T) {
	dir := t.TempDir()
	cfgFile, yaml, cfg := heldConfig(t, dir)
	data := cfg.DataDir
	gw := runGateway(t, cfg)

	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", gw.MLLPAddr("main").String())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rd := mllp.NewReader(conn, 1<<20)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("LB%d-%d", c, i)
				msg := strings.Replace(adt(c*100000+i), fmt.Sprintf("|CTRL-%d|", c*100000+i), "|"+id+"|", 1)
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				if err := mllp.WriteFrame(conn, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				ack, err := rd.ReadFrame()
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Contains(ack, []byte("MSA|AA|"+id)) {
					t.Errorf("message %s: %q", id, ack)
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	// Let a backlog build, then back up while the senders go on.
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	mu.Lock()
	before := make([]string, 0, len(acked))
	for id := range acked {
		before = append(before, id)
	}
	mu.Unlock()
	archive := filepath.Join(dir, "live.tar.gz")
	var out bytes.Buffer
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, &out, io.Discard); err != nil {
		t.Fatalf("live backup: %v", err)
	}
	if !strings.Contains(out.String(), "taken from the running gateway, which held its queue still for ") {
		t.Errorf("backup said:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(data, ops.SnapshotDir)); !os.IsNotExist(err) {
		t.Errorf("the snapshot is still in the data folder: %v", err)
	}
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()

	// One backup at a time: a snapshot handed out and not released
	// refuses the next, and its release lets it go.
	tok, err := ops.ReadToken(data)
	if err != nil {
		t.Fatal(err)
	}
	_, hold, err := ops.RemoteSnapshot(context.Background(), cfg.Status.Listen, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, filepath.Join(dir, "second.tar.gz")}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "another backup of this gateway is running") {
		t.Errorf("a second backup meanwhile: %v", err)
	}
	if err := hold.Release(); err != nil {
		t.Fatal(err)
	}
	// A command that dies holding a snapshot (its connection closed, no
	// release) leaves nothing behind, and the next backup may run.
	req, _ := http.NewRequest(http.MethodPost, "http://"+cfg.Status.Listen+"/api/ops/backup/snapshot", nil)
	req.Header.Set("Authorization", "Bearer "+string(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var snap ops.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || len(snap.Files) == 0 {
		t.Fatalf("snapshot answer: %v, %d files", err, len(snap.Files))
	}
	if _, err := os.Stat(snap.Dir); err != nil {
		t.Fatalf("the snapshot held is not there: %v", err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(snap.Dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot of a command that went away was not removed")
		}
	}

	close(stop)
	wg.Wait()
	mu.Lock()
	after := len(acked) - len(before) - during
	mu.Unlock()
	t.Logf("%d messages acknowledged before the backup, %d during it, %d after", len(before), during, after)
	// A stop while a backup holds its snapshot does not wait for it: the
	// command learns that its hold is lost (its archive is then not to be
	// trusted), and the next start removes the snapshot.
	held, hold, err := ops.RemoteSnapshot(context.Background(), cfg.Status.Listen, tok)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := gw.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.Lost():
	case <-time.After(10 * time.Second):
		t.Error("the hold on a snapshot was not lost when the gateway stopped")
	}
	hold.Release()
	if _, err := os.Stat(held.Dir); err != nil {
		t.Errorf("the snapshot held at the stop is gone: %v", err)
	}
	gw2 := runGateway(t, cfg)
	if _, err := os.Stat(filepath.Join(data, ops.SnapshotDir)); !os.IsNotExist(err) {
		t.Errorf("the next start left the snapshot: %v", err)
	}
	if err := gw2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Restored elsewhere, the queue holds every message acknowledged
	// before the backup began.
	data2 := filepath.Join(dir, "restored")
	cfg2 := filepath.Join(dir, "ferry2.yaml")
	if err := os.WriteFile(cfg2, []byte(strings.Replace(yaml, fmt.Sprintf("%q", data), fmt.Sprintf("%q", data2), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdRestore(context.Background(), []string{"--config", cfg2, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(data2, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	have := map[string]bool{}
	for q.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		it, ack, err := q.Get(ctx)
		cancel()
		if err != nil {
			t.Fatalf("restored queue, %d left: %v", q.Len(), err)
		}
		rc, err := it.OpenBody()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(body, []byte(`:msh-10","value":"`))
		if i < 0 {
			t.Fatalf("restored item %s names no control id", it.ID)
		}
		id, _, _ := strings.Cut(string(body[i+len(`:msh-10","value":"`):]), `"`)
		have[id] = true
		ack(context.Background(), nil)
	}
	if st := q.Stats(); st.Corrupt != 0 {
		t.Errorf("restored queue: %d corrupt records", st.Corrupt)
	}
	missing := 0
	for _, id := range before {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of the %d messages acknowledged before the backup are not in it", missing, len(before))
	}
	if total := len(before) + during + after; len(have) > total {
		t.Errorf("the backup holds %d messages, of %d sent", len(have), total)
	}
}

// auditedDataDir makes a stopped gateway's data folder (an empty queue)
// whose configuration audits to a real syslog receiver.
func auditedDataDir(t *testing.T) (repo *udpRepo, dir, cfgFile string, cfg *config.Config) {
	t.Helper()
	repo = newUDPRepo(t)
	dir = t.TempDir()
	cfgFile, cfg = auditCfgFile(t, dir, repo.URL(), "")
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	return repo, dir, cfgFile, cfg
}

// TestBackupAudited: a backup copies every patient's data out of the
// gateway, so it reaches a real syslog receiver as an Export naming the
// person, the archive as destination and the data folder as the object.
func TestBackupAudited(t *testing.T) {
	repo, dir, cfgFile, cfg := auditedDataDir(t)
	archive := filepath.Join(dir, "b.tar.gz")
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, _ := filepath.Abs(cfg.DataDir)
	wantIn(t, "backup event", repo.next(), `csd-code="110106"`, `EventActionCode="R"`, `EventOutcomeIndicator="0"`,
		`csd-code="backup"`, `UserID="`+me(t)+`"`, `csd-code="humanuser"`, `UserID="file:`+filepath.ToSlash(archive)+`"`,
		`ParticipantObjectID="`+data+`"`, `csd-code="data-folder"`)
}

// TestRestoreCheck: `ferry restore --check` restores a backup into a
// temporary folder, says what it holds and that the configured key opens
// its sealed data, and leaves nothing behind, also for an archive piped
// through `ferry backup -` and read from standard input; it fails on an archive cut
// short or damaged, and on a configuration whose key would not start a
// gateway on it.
func TestRestoreCheck(t *testing.T) {
	dir := t.TempDir()
	key, other := filepath.Join(dir, "keys", "a.key"), filepath.Join(dir, "keys", "b.key")
	os.Mkdir(filepath.Dir(key), 0o700)
	for _, k := range []string{key, other} {
		if err := cmdKeygen(context.Background(), []string{k}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	write := func(keyFile string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "data_dir: %q\nencryption:\n  key_file: %q\n", data, keyFile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(key)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := cfg.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := q.Put(context.Background(), &queue.Item{ID: fmt.Sprintf("b%d", i), Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close(context.Background())
	archive := filepath.Join(dir, "b.tar.gz")
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	check := func(file string) (string, error) {
		var out bytes.Buffer
		err := cmdRestore(context.Background(), []string{"--check", "--config", cfgFile, file}, &out, io.Discard)
		return out.String(), err
	}
	out, err := check(archive)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"it holds 3 bundles waiting for delivery", "0 dead letters, 0 held, 0 quarantined inputs", "sealed with key " + k.ID(), "ok: it restores"} {
		if !strings.Contains(out, want) {
			t.Errorf("check said, without %q:\n%s", want, out)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ferry-restore-check-*")); len(left) > 0 {
		t.Errorf("the check left %v", left)
	}

	// "-": the archive to standard output (for gpg, ssh), what the
	// command says to standard error; checked from standard input.
	var piped, said bytes.Buffer
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, "-"}, &piped, &said); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(said.String(), "to standard output") {
		t.Errorf("backup - said:\n%s", said.String())
	}
	pipedFile := filepath.Join(dir, "piped.tar.gz")
	os.WriteFile(pipedFile, piped.Bytes(), 0o600)
	in, err := os.Open(pipedFile)
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = in
	out, err = check("-")
	os.Stdin = stdin
	in.Close()
	if err != nil || !strings.Contains(out, "it holds 3 bundles waiting for delivery") {
		t.Errorf("check of - (piped): %v\n%s", err, out)
	}

	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.tar.gz")
	os.WriteFile(cut, b[:len(b)*2/3], 0o600)
	if _, err := check(cut); err == nil || !strings.Contains(err.Error(), "does not restore") {
		t.Errorf("check of an archive cut short: %v", err)
	}

	write(other)
	if _, err := check(archive); err == nil || !strings.Contains(err.Error(), "would not start on it") {
		t.Errorf("check with another key: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ferry-restore-check-*")); len(left) > 0 {
		t.Errorf("the failed checks left %v", left)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("the data folder: %v", err)
	}
}

// TestBackupPipeAudited: an archive written to standard output has left
// as it is written, so its Export event is recorded before the first
// byte, naming stdout: as the destination.
func TestBackupPipeAudited(t *testing.T) {
	repo, _, cfgFile, _ := auditedDataDir(t)
	var piped bytes.Buffer
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, "-"}, &piped, io.Discard); err != nil {
		t.Fatal(err)
	}
	if piped.Len() == 0 {
		t.Fatal("nothing on standard output")
	}
	wantIn(t, "backup event", repo.next(), `csd-code="110106"`, `EventOutcomeIndicator="0"`, `csd-code="backup"`, `UserID="stdout:"`)
}

// TestLiveBackupReleaseAfterInterrupt: `ferry backup` interrupted with
// Ctrl-C released the running gateway's snapshot with the interrupted
// context, so the release failed and every interrupted backup ended with
// "note: release the gateway's snapshot …: interrupt signal received", as
// if the snapshot had been left in the data folder. The release now goes
// out whatever became of the command's context, and the snapshot goes.
func TestLiveBackupReleaseAfterInterrupt(t *testing.T) {
	dir := t.TempDir()
	_, _, cfg := heldConfig(t, dir)
	runGateway(t, cfg)
	tok, err := ops.ReadToken(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	snap, hold, err := ops.RemoteSnapshot(ctx, cfg.Status.Listen, tok)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // Ctrl-C
	if err := hold.Release(); err != nil {
		t.Errorf("release after an interrupt: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(snap.Dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot of an interrupted backup was not removed")
		}
	}
}

// TestRestoreCheckHintNamesTheConfiguration: `ferry restore --check FILE
// --config CFG` ended "`ferry restore FILE` puts it in place", which,
// followed as written, restores into the data folder of another
// configuration (/etc/ferry/ferry.yaml, or the embedded default's
// ./ferry-data in whatever folder it is run); the command it gives now
// names the configuration checked against and the data folder it fills,
// and does what it says once that folder is empty.
func TestRestoreCheckHintNamesTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "data_dir: %q\n", data), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "a", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	archive := filepath.Join(dir, "b.tar.gz")
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdRestore(context.Background(), []string{"--check", "--config", cfgFile, archive}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := "`ferry restore " + archive + " --config " + cfgFile + "` puts it in place (into data_dir " + data + ", once it is empty or gone)"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("check said, without %q:\n%s", want, out.String())
	}
	// Followed as written, once the data folder is moved aside.
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	cmd := strings.Fields(strings.Trim(want[:strings.Index(want, "` puts")], "`"))
	if err := cmdRestore(context.Background(), cmd[2:], io.Discard, io.Discard); err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd, " "), err)
	}
	if _, err := os.Stat(filepath.Join(data, "queue")); err != nil {
		t.Fatalf("the hint's restore did not fill %s: %v", data, err)
	}
}

// TestRestoreSaysWhichKey: `ferry restore` of a backup of sealed data
// under a configuration whose key does not open it (another key, or
// encryption off) restored it and said nothing of the key, then "next:
// ferry doctor ...; then start it", as if the gateway would start on it;
// with the key file not put back yet, it named the file but not the key
// the data needs. It now names the key id the data is sealed with and
// whether the configured key is that one.
func TestRestoreSaysWhichKey(t *testing.T) {
	dir := t.TempDir()
	key, other := filepath.Join(dir, "keys", "a.key"), filepath.Join(dir, "keys", "b.key")
	os.Mkdir(filepath.Dir(key), 0o700)
	for _, k := range []string{key, other} {
		if err := cmdKeygen(context.Background(), []string{k}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	write := func(keyFile string) {
		t.Helper()
		body := fmt.Sprintf("data_dir: %q\n", data)
		if keyFile != "" {
			body += fmt.Sprintf("encryption:\n  key_file: %q\n", keyFile)
		}
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(key)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := cfg.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "b1", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	archive := filepath.Join(dir, "b.tar.gz")
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	restore := func(keyFile string) string {
		t.Helper()
		if err := os.RemoveAll(data); err != nil {
			t.Fatal(err)
		}
		write(keyFile)
		var out bytes.Buffer
		if err := cmdRestore(context.Background(), []string{"--config", cfgFile, archive}, &out, io.Discard); err != nil {
			t.Fatalf("restore: %v\n%s", err, out.String())
		}
		return out.String()
	}
	for _, c := range []struct {
		keyFile string
		want    []string
	}{
		{key, []string{"sealed with key " + k.ID() + " (1 queue item), which encryption.key_file " + key + " is"}},
		{other, []string{"warning:", "sealed with key " + k.ID(), "encryption.key_file " + other + " is key", "does not start"}},
		{"", []string{"warning:", "sealed with key " + k.ID(), "encryption is off", "does not start"}},
		{filepath.Join(dir, "keys", "gone.key"), []string{"sealed with key " + k.ID(), "put back", "gone.key"}},
	} {
		out := restore(c.keyFile)
		if strings.Contains(out, "keygen") {
			t.Errorf("key_file %q: restore advises a new key, which opens none of it:\n%s", c.keyFile, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("key_file %q: restore said, without %q:\n%s", c.keyFile, w, out)
			}
		}
	}
}

// TestRestoreNamesOnlyKeysMissing: restore told the contractor to "put
// these back from where you keep them" for every key file the
// configuration names, the ones in place on this machine too (a restore
// on the machine the backup came from); it names only those missing, and
// says the others are in place.
func TestRestoreNamesOnlyKeysMissing(t *testing.T) {
	dir := t.TempDir()
	key, gone := filepath.Join(dir, "a.key"), filepath.Join(dir, "old.key")
	if err := cmdKeygen(context.Background(), []string{key}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	body := fmt.Sprintf("data_dir: %q\nencryption:\n  key_file: %q\n  previous_key_files: [%q]\n", data, key, gone)
	if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "b.tar.gz")
	if err := cmdBackup(context.Background(), []string{"--config", cfgFile, archive}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdRestore(context.Background(), []string{"--config", cfgFile, archive}, &out, io.Discard); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	var back, inPlace string
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "put these back") {
			back = line
		}
		if strings.Contains(line, "in place") {
			inPlace = line
		}
	}
	if !strings.Contains(back, gone) || strings.Contains(back, key) {
		t.Errorf("restore asks to put back %q, want %s and not %s:\n%s", back, gone, key, out.String())
	}
	if !strings.Contains(inPlace, key) {
		t.Errorf("restore does not say %s is in place:\n%s", key, out.String())
	}
}
