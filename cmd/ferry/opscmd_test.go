package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/installer"
)

func TestInitNonInteractivePassesConfigCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "etc", "ferry.yaml")
	var so, se bytes.Buffer
	err := runInit([]string{"--exchange-url", "https://hie.example.org/fhir/R4", "--ca", "/etc/ferry/ca.pem",
		"--cert", "/etc/ferry/client.pem", "--key", "/etc/ferry/client.key", "--mllp-listen", "0.0.0.0:2575",
		"--data-dir", filepath.Join(dir, "data"), "--out", out}, strings.NewReader(""), true, &so, &se)
	if err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
	fi, err := os.Stat(out)
	if err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 { // Windows has only the read-only bit
		t.Fatalf("written file: %v %v", fi, err)
	}
	var check bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", out}, &check, io.Discard); err != nil {
		t.Fatalf("config check: %v\n%s", err, check.String())
	}
	if !strings.Contains(check.String(), "ok (1 MLLP listener(s), 0 folder(s), exchange https://hie.example.org/fhir/R4)") {
		t.Fatalf("config check said %q", check.String())
	}
	// The notes about missing key files go to stderr; the file is still written.
	cert, _ := filepath.Abs("/etc/ferry/client.pem") // on Windows with the current drive
	if !strings.Contains(se.String(), "--cert "+cert+": does not exist yet") {
		t.Errorf("no note about the missing cert: %q", se.String())
	}
	// No silent overwrite.
	if err := runInit([]string{"--out", out}, nil, false, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrote without --force: %v", err)
	}
	if err := runInit([]string{"--out", out, "--force"}, nil, false, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(out)
	if err != nil || cfg.Exchange.URL != "" || cfg.DataDir != installer.PackageLayout().DataDir { // /var/lib/ferry; on Windows under ProgramData
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	// Answers that make an invalid configuration are refused and nothing is written.
	bad := filepath.Join(dir, "bad.yaml")
	var be bytes.Buffer
	err = runInit([]string{"--exchange-url", "http://hie.example.org/", "--status-listen", "0.0.0.0:8089", "--out", bad}, nil, false, io.Discard, &be)
	if err == nil || !strings.Contains(be.String(), "exchange.url: must be https") || !strings.Contains(be.String(), "status.listen: must be a loopback address") {
		t.Fatalf("bad answers: %v\n%s", err, be.String())
	}
	if _, err := os.Stat(bad); err == nil {
		t.Fatal("invalid configuration written")
	}
	if err := runInit([]string{"--cert", "c.pem", "--out", bad}, nil, false, io.Discard, io.Discard); err == nil {
		t.Fatal("cert without key accepted")
	}
	// --out - prints it.
	var stdout bytes.Buffer
	if err := runInit([]string{"--out", "-", "--data-dir", `D:\ferry data`}, nil, false, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Parse("stdout", stdout.Bytes()); err != nil || c.DataDir != `D:\ferry data` {
		t.Fatalf("stdout config: %v", err)
	}
}

// TestInitSFTP: an sftp:// exchange gets an exchange.sftp section with the
// key and known_hosts instead of TLS, from flags or from the questions.
func TestInitSFTP(t *testing.T) {
	dir := t.TempDir()
	key, known := filepath.Join(dir, "sftp_ed25519"), filepath.Join(dir, "known_hosts")
	for _, f := range []string{key, known} {
		os.WriteFile(f, []byte("x"), 0o600)
	}
	out := filepath.Join(dir, "flags.yaml")
	if err := runInit([]string{"--exchange-url", "sftp://clinic7@sftp.hie.example.org/inbound", "--sftp-key", key, "--known-hosts", known,
		"--data-dir", filepath.Join(dir, "data"), "--out", out}, nil, false, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	answers := strings.Join([]string{
		"sftp://sftp.hie.example.org/inbound", // refused: no account
		"sftp://clinic7@sftp.hie.example.org/inbound",
		key, known,
		"", // default MLLP address
		filepath.Join(dir, "data"),
		"", // no encryption
		filepath.Join(dir, "asked.yaml"),
	}, "\n") + "\n"
	var so bytes.Buffer
	if err := runInit(nil, strings.NewReader(answers), true, &so, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, so.String())
	}
	if !strings.Contains(so.String(), "names no account") {
		t.Errorf("dialogue lacks the refusal:\n%s", so.String())
	}
	for _, f := range []string{out, filepath.Join(dir, "asked.yaml")} {
		cfg, err := config.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Exchange.FileDrop() || cfg.Exchange.SFTP.KeyFile != key || cfg.Exchange.SFTP.KnownHosts != known || cfg.Exchange.TLS.CertFile != "" {
			t.Errorf("%s: exchange %+v", f, cfg.Exchange)
		}
	}
}

func TestInitInteractive(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	cert := filepath.Join(dir, "client.pem")
	key := filepath.Join(dir, "client.key")
	for _, f := range []string{ca, cert, key} {
		os.WriteFile(f, []byte("x"), 0o600)
	}
	out := filepath.Join(dir, "ferry.yaml")
	answers := strings.Join([]string{
		"http://plain.example.org/", // refused: not https
		"https://hie.example.org/fhir/R4",
		filepath.Join(dir, "missing.pem"), // refused: no such file
		ca, cert, key,
		"localhost", // refused: no port
		"",          // default MLLP address
		filepath.Join(dir, "data"),
		filepath.Join(dir, "keys", "ferry.key"), // made now
		out,
	}, "\n") + "\n"
	var so bytes.Buffer
	if err := runInit(nil, strings.NewReader(answers), true, &so, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, so.String())
	}
	for _, want := range []string{"must start with https://", "missing.pem does not exist yet", "want host:port", "wrote " + out} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("dialogue lacks %q:\n%s", want, so.String())
		}
	}
	cfg, err := config.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exchange.URL != "https://hie.example.org/fhir/R4" || cfg.Exchange.TLS.CAFile != ca || cfg.Exchange.TLS.KeyFile != key ||
		cfg.Sources.MLLP[0].Listen != "127.0.0.1:2575" || cfg.DataDir != filepath.Join(dir, "data") {
		t.Fatalf("answers not in config: %+v", cfg)
	}
	if k, err := cfg.LoadKey(); err != nil || !strings.Contains(so.String(), "wrote key "+k.ID()) || !strings.Contains(so.String(), "Keep a copy") {
		t.Fatalf("encryption key: %v\n%s", err, so.String())
	}
	// Input ending early is an error, not a half-written file.
	if err := runInit(nil, strings.NewReader("https://hie.example.org/\n"), true, io.Discard, io.Discard); err == nil {
		t.Fatal("EOF accepted")
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const testADT = "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240101120000||ADT^A01|MSG%05d|P|2.5\rEVN|A01|20240101120000\rPID|1||%05d^^^HOSP^MR||Doe^Jane||19800101|F\rPV1|1|O\r"

// heldConfig writes dir/ferry.yaml: MLLP "main" on a free port, data in
// dir/data, an exchange that is not there (mutual TLS with a demo PKI,
// retried hourly, so bundles stay queued) and the status page on a free
// port. It returns the file, its text and the configuration loaded.
func heldConfig(t *testing.T, dir string) (file, yaml string, cfg *config.Config) {
	t.Helper()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "ferry.yaml")
	yaml = fmt.Sprintf(`
data_dir: %q
sources:
  mllp:
    - name: main
      listen: 127.0.0.1:0
exchange:
  url: https://%s/fhir
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 1h, max_interval: 2h}
status:
  listen: %q
`, filepath.Join(dir, "data"), freeAddr(t), paths.CA, paths.ClientCert, paths.ClientKey, freeAddr(t))
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = config.Load(file); err != nil {
		t.Fatal(err)
	}
	return file, yaml, cfg
}

// TestStatusOnlineAndOffline runs a real gateway whose exchange is down,
// so messages wait in the queue, and checks `ferry status` both while it
// runs (from /api/status) and after it stopped (from the data folder).
func TestStatusOnlineAndOffline(t *testing.T) {
	dir := t.TempDir()
	cfgFile, _, cfg := heldConfig(t, dir)
	statusAddr := cfg.Status.Listen
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			gw.Shutdown(context.Background())
		}
	}()
	conn, err := net.Dial("tcp", gw.MLLPAddr("main").String())
	if err != nil {
		t.Fatal(err)
	}
	rd := mllp.NewReader(conn, 1<<20)
	for i := 1; i <= 3; i++ {
		if code := send(t, conn, rd, fmt.Sprintf(testADT, i, i)); code != "AA" {
			t.Fatalf("message %d: %s", i, code)
		}
	}
	conn.Close()

	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("status: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"is running (status page http://" + statusAddr + "/)", "queue depth:       3 waiting", "oldest item:", "dead letters:      0", "converted:         3 bundles queued", "mllp main:         3 messages: 3 accepted, 0 refused as errors (AE), 0 rejected to resend (AR); ACK after p50 ≤ ",
		"disk flush:        p50 ≤ ", "convert hl7v2:     p50 ≤ ", "over 3 inputs"} {
		if !strings.Contains(s, want) {
			t.Errorf("online status lacks %q:\n%s", want, s)
		}
	}
	// /metrics carries the ACK latency histogram of the listener.
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# TYPE ferry_mllp_ack_seconds histogram",
		`ferry_mllp_ack_seconds_bucket{source="main",le="+Inf"} 3`,
		`ferry_mllp_ack_seconds_count{source="main"} 3`,
		`ferry_mllp_messages_total{source="main",ack="accept"} 3`,
		`ferry_mllp_acks_not_sent_total{source="main"} 0`,
		`ferry_mllp_app_acks_requested_total{source="main"} 0`,
		`ferry_mllp_app_acks_sent_total{source="main"} 0`,
		"# TYPE ferry_queue_flush_seconds histogram",
		`ferry_ingest_convert_seconds_bucket{format="hl7v2",le="+Inf"} 3`,
		`ferry_ingest_convert_seconds_count{format="hl7v2"} 3`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	// Every ACK waited for a flush (deliveries' settlements add theirs).
	if n := gw.report().Flush.Count(); n < 1 {
		t.Errorf("%d flushes counted for 3 acknowledged messages", n)
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped = true
	out.Reset()
	err = cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard)
	if ec, ok := err.(exitCoder); !ok || ec.ExitCode() != 3 {
		t.Fatalf("offline status exit: %v", err)
	}
	s = out.String()
	for _, want := range []string{"ferry is not running", "queue depth:       3 waiting", "last delivery:     unknown", "dead letters:      0"} {
		if !strings.Contains(s, want) {
			t.Errorf("offline status lacks %q:\n%s", want, s)
		}
	}
}

// TestStatusRunningWithoutStatusListener: with status.listen off (a
// configuration may turn the page off), a running gateway has no page to
// answer `ferry status`; the command said "ferry is not running" and
// exited 3 beside the running gateway, so a monitor alerted on it and an
// operator went on to start a second one. The gateway holds the queue's
// lock: status says it runs, reads the figures from the data folder and
// exits 0; once it stops, 3 again.
func TestStatusRunningWithoutStatusListener(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
data_dir: %q
sources:
  mllp:
    - name: main
      listen: 127.0.0.1:0
status: {listen: ""}
`, filepath.Join(dir, "data"))), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg)

	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("status beside a running gateway: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "ferry is running") || strings.Contains(s, "not running") {
		t.Errorf("status beside a running gateway without status.listen:\n%s", s)
	}
	out.Reset()
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"running": true`) {
		t.Errorf("status --json beside a running gateway:\n%s", out.String())
	}

	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard)
	if ec, ok := err.(exitCoder); !ok || ec.ExitCode() != 3 {
		t.Fatalf("status after the stop: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ferry is not running") {
		t.Errorf("status after the stop:\n%s", out.String())
	}
}

func TestBackfillCommand(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "export")
	os.MkdirAll(exp, 0o755)
	for i := 1; i <= 4; i++ {
		os.WriteFile(filepath.Join(exp, fmt.Sprintf("m%d.hl7", i)), []byte(fmt.Sprintf(testADT, i, i)), 0o644)
	}
	os.WriteFile(filepath.Join(exp, "readme.pdf.txt"), []byte("hello"), 0o644)
	cfgFile := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\n", filepath.Join(dir, "data"), freeAddr(t))), 0o600)
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "5 file(s): 4 converted now, 0 already done by an earlier run, 0 quarantined") ||
		!strings.Contains(out.String(), "skipped (not a format ferry converts): sha256=2cf24dba5fb0") { // "hello"
		t.Fatalf("first run:\n%s", out.String())
	}
	out.Reset()
	if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4 already done") || !strings.Contains(out.String(), "queue now holds 4 item(s)") {
		t.Fatalf("second run:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(exp); len(entries) != 5 {
		t.Fatalf("originals moved: %d left", len(entries))
	}
}

func TestScheduledJobs(t *testing.T) {
	dir := t.TempDir()
	watched := filepath.Join(dir, "drop")
	done := filepath.Join(watched, ".ferry", "done")
	old := time.Now().AddDate(0, 0, -45).Format(time.DateOnly)
	recent := time.Now().AddDate(0, 0, -2).Format(time.DateOnly)
	for _, d := range []string{old, recent} {
		os.MkdirAll(filepath.Join(done, d), 0o755)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name = "drop"
	cfg.Sources.Folders[0].Path = watched
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	s, err := gocron.NewScheduler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if err := g.scheduleJobs(s); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range s.Jobs() {
		names = append(names, j.Name())
	}
	if strings.Join(names, ",") != "retention,certificate expiry" && strings.Join(names, ",") != "certificate expiry,retention" {
		t.Fatalf("jobs %v", names)
	}
	g.pruneDelivered(context.Background())
	if _, err := os.Stat(filepath.Join(done, old)); err == nil {
		t.Error("45-day-old done folder kept")
	}
	if _, err := os.Stat(filepath.Join(done, recent)); err != nil {
		t.Error("recent done folder removed")
	}
	if !strings.Contains(logs.String(), "removed delivered files") {
		t.Errorf("no log line: %s", logs.String())
	}
}

func TestCertExpiryWarning(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("exchange CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, k, _ := ca.IssueValid("ferry client", nil, nil, true, now.Add(-time.Hour), now.Add(12*24*time.Hour))
	os.WriteFile(filepath.Join(dir, "c.pem"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "c.key"), k, 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600)
	cfg := config.Default()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS.CertFile = filepath.Join(dir, "c.pem")
	cfg.Exchange.TLS.KeyFile = filepath.Join(dir, "c.key")
	cfg.Exchange.TLS.CAFile = filepath.Join(dir, "ca.pem")
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	g.warnCertExpiry()
	out := logs.String()
	if !strings.Contains(out, `msg="certificate expires soon" use="exchange client certificate"`) || !strings.Contains(out, "days_left=11") && !strings.Contains(out, "days_left=12") {
		t.Fatalf("no expiry warning for the client certificate:\n%s", out)
	}
	if strings.Contains(out, `use="exchange CA"`) {
		t.Fatalf("CA valid for years warned about:\n%s", out)
	}
}

// TestCheckExchangeURL: init takes a FHIR base over https or an HL7 v2
// exchange as mllps://host:port, and nothing in clear text.
func TestCheckExchangeURL(t *testing.T) {
	for s, ok := range map[string]bool{
		"":                                true,
		"https://hie.example.org/fhir/R4": true,
		"mllps://hie.example.org:6661":    true,
		"mllps://hie.example.org":         false,
		"mllp://hie.example.org:6661":     false,
		"http://hie.example.org/fhir":     false,
	} {
		if err := checkExchangeURL(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestInitExistingFileAskedAgain: on a terminal, a configuration file that
// exists already is refused when it is named, and the question asked again,
// not after every answer was given (losing them all); and an init that
// would not write its file makes no encryption key either.
func TestInitExistingFileAskedAgain(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(existing, []byte("data_dir: /srv/ferry\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "site.yaml")
	answers := strings.Join([]string{
		"",                         // no exchange yet
		"",                         // default MLLP address
		filepath.Join(dir, "data"), // data folder
		"",                         // no encryption
		existing,                   // refused: exists
		fresh,
	}, "\n") + "\n"
	var so bytes.Buffer
	if err := runInit([]string{"--out", existing}, strings.NewReader(answers), true, &so, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, so.String())
	}
	if !strings.Contains(so.String(), existing+" exists") || !strings.Contains(so.String(), "wrote "+fresh) {
		t.Fatalf("dialogue:\n%s", so.String())
	}
	if b, _ := os.ReadFile(existing); string(b) != "data_dir: /srv/ferry\n" {
		t.Fatalf("existing file changed: %q", b)
	}
	if cfg, err := config.Load(fresh); err != nil || cfg.DataDir != filepath.Join(dir, "data") {
		t.Fatalf("written: %v %+v", err, cfg)
	}

	// With flags: refused before the key is made, so no stray key is left.
	key := filepath.Join(dir, "ferry.key")
	err := runInit([]string{"--encryption-key", key, "--data-dir", filepath.Join(dir, "data"), "--out", existing}, nil, false, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exists; use --force") {
		t.Fatalf("existing --out: %v", err)
	}
	if _, err := os.Stat(key); err == nil {
		t.Fatal("a key was made for a configuration that was not written")
	}
}

// TestInitInvalidAnswersAskedAgain: on a terminal, answers that each pass
// their question but together make a configuration `ferry config check`
// refuses (a data-at-rest key inside the data folder) ended the dialogue
// with "not written" and a line number of a file never written, every
// answer lost; the dialogue now says what is wrong and asks again, each
// answer given offered as the default.
func TestInitInvalidAnswersAskedAgain(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	out := filepath.Join(dir, "ferry.yaml")
	key := filepath.Join(dir, "keys", "ferry.key")
	answers := strings.Join([]string{
		"", "", data,
		filepath.Join(data, "ferry.key"), // refused with the others: inside the data folder
		out,
		"", "", "", // Enter keeps the answers given
		key,
		"",
	}, "\n") + "\n"
	var so bytes.Buffer
	if err := runInit(nil, strings.NewReader(answers), true, &so, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, so.String())
	}
	if !strings.Contains(so.String(), "encryption.key_file: "+filepath.Join(data, "ferry.key")+" is inside data_dir") || strings.Contains(so.String(), "line ") {
		t.Errorf("dialogue does not say what was wrong, or names a line of a file not written:\n%s", so.String())
	}
	if !strings.Contains(so.String(), "["+data+"]") {
		t.Errorf("the data folder given is not offered again:\n%s", so.String())
	}
	cfg, err := config.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != data || cfg.Encryption.KeyFile != key {
		t.Fatalf("written: data_dir %s, key %s", cfg.DataDir, cfg.Encryption.KeyFile)
	}
	if _, err := os.Stat(filepath.Join(data, "ferry.key")); err == nil {
		t.Error("the refused key was made")
	}
}

// TestCertNotYetValidWarning: a certificate whose NotBefore is still to
// come (the clinic PC's clock set back, or a certificate issued for a
// later date) fails every handshake as an expired one does; the daily
// check, ferry status and /metrics say so rather than "valid for a year".
func TestCertNotYetValidWarning(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("exchange CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	from := now.Add(3 * 24 * time.Hour)
	c, k, err := ca.IssueValid("ferry client", nil, nil, true, from, now.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "c.pem"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "c.key"), k, 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600)
	cfg := config.Default()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS.CertFile = filepath.Join(dir, "c.pem")
	cfg.Exchange.TLS.KeyFile = filepath.Join(dir, "c.key")
	cfg.Exchange.TLS.CAFile = filepath.Join(dir, "ca.pem")
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	g.warnCertExpiry()
	out := logs.String()
	if !strings.Contains(out, `msg="certificate is not valid yet" use="exchange client certificate"`) || !strings.Contains(out, "valid_from="+from.UTC().Format(time.DateOnly)) {
		t.Fatalf("no warning for the certificate not valid yet:\n%s", out)
	}
	if strings.Contains(out, `use="exchange CA"`) {
		t.Fatalf("CA valid now warned about:\n%s", out)
	}

	st := ops.Status{Now: now, Certificates: ops.ConfiguredCertificates(cfg, now)}
	var b bytes.Buffer
	ops.PrintStatus(&b, &st)
	if want := "exchange client certificate NOT VALID until " + from.UTC().Format(time.DateOnly); !strings.Contains(b.String(), want) {
		t.Errorf("ferry status does not say %q:\n%s", want, b.String())
	}
	b.Reset()
	writeMetrics(&b, st)
	if !strings.Contains(b.String(), `ferry_certificate_unusable{use="exchange client certificate"} 1`) {
		t.Errorf("/metrics does not mark the certificate unusable:\n%s", b.String())
	}
	b.Reset()
	if err := statusTmpl.Execute(&b, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "not valid until") {
		t.Errorf("the status page does not say the certificate is not valid yet:\n%s", b.String())
	}
}
