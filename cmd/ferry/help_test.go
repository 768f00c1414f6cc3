package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
)

// TestUsageNamesConfigAndDataDir: `ferry --help` is where a contractor
// looks first, so it must say which file each command reads (run: the
// embedded default without --config; the operator commands: the
// package's file when it exists) and where the data is, with the embedded
// default's own addresses and folder.
func TestUsageNamesConfigAndDataDir(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("ferry --help: exit %d", code)
	}
	def, err := config.Parse("embedded default", config.DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	pkg := installer.PackageLayout()
	help := errOut.String()
	for _, want := range []string{
		pkg.ConfigFile + " when it exists",
		pkg.DataDir,
		"data_dir",
		def.DataDir,
		def.Sources.MLLP[0].Listen,
		def.Status.Listen,
		"doctor, status, queue, held, quarantine, backfill",
		// Every command that reads the installed file when it exists
		// and the embedded default otherwise is named (README: "ferry
		// --help names the file each command reads").
		"merges, sequences",
		"backup, restore",
		"held          bundles kept back by exchange.hold: list | show ID | release ID... [--force] | discard ID... --yes ([--config FILE])",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("ferry --help does not say %q:\n%s", want, help)
		}
	}
}

// TestSubcommandHelpExitsZero: `ferry queue --help` (and the other
// commands with sub-actions or no flags) prints the usage and succeeds,
// as every command with flags does; a missing action is still an error.
func TestSubcommandHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"queue", "--help"}, {"held", "-h"}, {"quarantine", "--help"}, {"config", "--help"},
		{"start", "--help"}, {"stop", "-h"}, {"restart", "--help"},
	} {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("ferry %s: exit %d, want 0\n%s", strings.Join(args, " "), code, errOut.String())
		}
		if !strings.HasPrefix(errOut.String(), "usage: ferry "+args[0]+" ") {
			t.Errorf("ferry %s printed no usage: %q", strings.Join(args, " "), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"queue"}, &out, &errOut); code != 2 {
		t.Errorf("ferry queue without an action: exit %d, want 2", code)
	}
	// The usage line sets the command apart from what it does, which
	// may begin with the same word ("ferry convert convert HL7 v2" read
	// as a typo).
	errOut.Reset()
	runMain(context.Background(), []string{"convert"}, &out, &errOut)
	if want := "usage: ferry convert — convert HL7 v2"; !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("ferry convert without a file printed %q, want it to begin %q", errOut.String(), want)
	}
}

// TestStartStopLoggedWithVersion: the README promises that each start
// and stop is logged with the version (after an upgrade the log shows
// which release stopped and which started); the stop line had none.
func TestStartStopLoggedWithVersion(t *testing.T) {
	cfg := parseConfig(t, `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, t.TempDir())
	var logs lockedBuffer
	p := &program{cfg: cfg, log: newLogger(&logs, "info")}
	if err := p.startGateway(); err != nil {
		t.Fatal(err)
	}
	if err := p.stopGateway(); err != nil {
		t.Fatal(err)
	}
	want := "version=" + versionString()
	for _, msg := range []string{`msg="ferry started"`, `msg="ferry stopped"`} {
		found := false
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, msg) {
				found = true
				if !strings.Contains(line, want) {
					t.Errorf("%s logged without %s: %s", msg, want, line)
				}
			}
		}
		if !found {
			t.Errorf("no %s line in the log:\n%s", msg, logs.String())
		}
	}
}

// TestInitWritesAbsolutePaths: `ferry init` run in a home folder with
// relative answers (--data-dir data, --cert client.pem) wrote them
// verbatim, and the service, which the unit starts in /var/lib/ferry,
// then looked for /var/lib/ferry/data and /var/lib/ferry/client.pem. It writes the paths that were meant, and keygen's
// advice names the key the same way.
func TestInitWritesAbsolutePaths(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	args := []string{"--exchange-url", "https://hie.example.org/fhir/R4", "--ca", "ca.pem", "--cert", "client.pem",
		"--key", "client.key", "--data-dir", "data", "--encryption-key", "keys/ferry.key", "--out", "ferry.yaml"}
	if err := runInit(args, nil, false, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"data_dir": cfg.DataDir, "exchange.tls.ca_file": cfg.Exchange.TLS.CAFile, "exchange.tls.cert_file": cfg.Exchange.TLS.CertFile,
		"exchange.tls.key_file": cfg.Exchange.TLS.KeyFile, "encryption.key_file": cfg.Encryption.KeyFile,
	} {
		if !filepath.IsAbs(got) || !strings.HasPrefix(got, dir+string(filepath.Separator)) {
			t.Errorf("%s = %q, want an absolute path under %s", name, got, dir)
		}
	}
	var out bytes.Buffer
	if code := runMain(context.Background(), []string{"keygen", "other.key"}, &out, io.Discard); code != 0 {
		t.Fatalf("keygen: exit %d", code)
	}
	if want := "key_file: " + filepath.Join(dir, "other.key") + "\n"; !strings.Contains(out.String(), want) {
		t.Errorf("keygen advice lacks %q:\n%s", want, out.String())
	}
	var errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"smart-key", "smart.key"}, io.Discard, &errOut); code != 0 {
		t.Fatalf("smart-key: exit %d", code)
	}
	if want := "key_file: " + filepath.Join(dir, "smart.key") + "}"; !strings.Contains(errOut.String(), want) {
		t.Errorf("smart-key advice lacks %q:\n%s", want, errOut.String())
	}
}

// TestUnknownFlagExitsTwo: a flag a command does not know is a usage
// mistake (2), not a failed check (1): `ferry config check --strict x`
// must not read as "the file has problems" to a script, and every command
// answers as `ferry bench` always did.
func TestUnknownFlagExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"config", "check", "--strict", "x.yaml"}, {"status", "--bogus"}, {"doctor", "--bogus"}, {"run", "--bogus"},
		{"queue", "list", "--bogus"}, {"convert", "--bogus", "x.hl7"}, {"init", "--bogus"}, {"status", "--json=maybe"},
		{"bench", "mllp", "--bogus"},
	} {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("ferry %s: exit %d, want 2\n%s", strings.Join(args, " "), code, errOut.String())
		}
	}
}

// TestHelpCreatesNoDataFolder: `ferry held -h` opened the held store (with
// the default configuration's ./ferry-data) before it looked at the
// action, so asking for help left a ferry-data/held folder in whatever
// directory the contractor stood in. No ops command's help or unknown
// action may create anything.
func TestHelpCreatesNoDataFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"held", "-h"}, {"held", "bogus"}, {"queue", "-h"}, {"queue", "bogus"},
		{"quarantine", "-h"}, {"quarantine", "bogus"}, {"merges", "-h"}, {"merges", "bogus"},
	} {
		var out, errOut bytes.Buffer
		runMain(context.Background(), args, &out, &errOut)
		if _, err := os.Stat("ferry-data"); err == nil {
			t.Fatalf("ferry %s created ./ferry-data", strings.Join(args, " "))
		}
	}
}

// TestListWithoutDataDir: `ferry held list` and `ferry quarantine list`
// run in a folder where no gateway ran (the embedded default's data_dir is
// ./ferry-data, relative to where the command runs) created an empty store
// there and answered "nothing is held" / "nothing is quarantined", an
// all-clear about a data_dir that was never the gateway's. They must say
// that data_dir does not exist, exit 1 and create nothing.
func TestListWithoutDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"held", "list"}, {"held", "show", "01NOSUCHID0000000000000000"},
		{"quarantine", "list"}, {"quarantine", "show", "01NOSUCHID0000000000000000"},
		{"queue", "list"}, {"merges", "list"},
	} {
		var out, errOut bytes.Buffer
		code := runMain(context.Background(), args, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "ferry-data does not exist") {
			t.Errorf("ferry %s: exit %d, want 1 naming the missing data_dir\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		if _, err := os.Stat("ferry-data"); err == nil {
			t.Fatalf("ferry %s created ./ferry-data", strings.Join(args, " "))
		}
	}
}

// TestStatusWithoutDataDir: `ferry status` with no gateway answering and
// no data_dir to read figures from says so, instead of printing a queue
// of 0 "read from ./ferry-data" for a folder no gateway ever used; it
// still exits 3 (not running).
func TestStatusWithoutDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: ./ferry-data\nstatus:\n  listen: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), []string{"status", "--config", cfg}, &out, &errOut)
	if code != 3 || !strings.Contains(errOut.String(), "does not exist") {
		t.Errorf("exit %d, want 3 naming the missing data_dir\n%s%s", code, out.String(), errOut.String())
	}
	if _, err := os.Stat("ferry-data"); err == nil {
		t.Fatal("ferry status created ./ferry-data")
	}
}

// TestUninstallNamesWhatItKeeps: what `ferry uninstall` prints after
// unregistering the service names the configuration, data_dir and each
// folder source's work folder, which hold PHI and may hold undelivered
// messages. Before, it said only "its data folder and configuration were
// kept", naming neither.
func TestUninstallNamesWhatItKeeps(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "fax-in")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
data_dir: %q
sources:
  folders:
    - name: drop
      kind: ehr
      path: %q
`, filepath.Join(dir, "data"), inbox)), 0o600)
	out := uninstallKept(cfgFile)
	for _, want := range []string{cfgFile, filepath.Join(dir, "data") + " (queue", filepath.Join(inbox, ".ferry") + " (done/ and failed/", "ferry status --config " + cfgFile} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall's account does not name %q:\n%s", want, out)
		}
	}
	if out := uninstallKept(filepath.Join(dir, "missing.yaml")); !strings.Contains(out, "could not read") {
		t.Errorf("a configuration it cannot read: %s", out)
	}
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"uninstall", "--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "-config") {
		t.Errorf("ferry uninstall --help: exit %d, %q", code, stderr.String())
	}
}

// TestConvertHelpNamesItsFormats: README has `ferry convert message.eml`
// show what a fax inbox would deliver, and convert takes faxes, HL7 v2
// batch files and NDJSON; its usage line and --format must say so, not
// only HL7 v2, C-CDA, FHIR JSON and CSV.
func TestConvertHelpNamesItsFormats(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"convert", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("ferry convert --help: exit %d", code)
	}
	errOut.Reset()
	runMain(context.Background(), []string{"--help"}, &out, &errOut)
	usage := errOut.String()
	errOut.Reset()
	runMain(context.Background(), []string{"convert", "--help"}, &out, &errOut)
	flags := errOut.String()
	for _, f := range []string{"hl7v2", "hl7v2-batch", "ccda", "fhir-json", "fhir-ndjson", "csv", "fax"} {
		if !strings.Contains(flags, " "+f+",") && !strings.Contains(flags, " "+f+" ") {
			t.Errorf("ferry convert --help does not name --format %s:\n%s", f, flags)
		}
		cfg := config.Default()
		if _, ok := converters(cfg)[f]; !ok {
			t.Errorf("--format %s is named but not converted", f)
		}
	}
	if !strings.Contains(usage, "fax images and e-mails") {
		t.Errorf("ferry --help's convert line does not name faxes:\n%s", usage)
	}
}

// TestEveryHelpSaysWhatTheCommandDoes: `ferry keygen --help` printed
// "Usage of ferry keygen:" and nothing else, neither what it does nor its
// PATH argument, and `ferry version --help` and every command with flags
// the same bare line: each --help now begins with the command's line of
// `ferry --help` (what it does and its arguments), then its flags; a flag
// mistake prints that line once, not twice.
func TestEveryHelpSaysWhatTheCommandDoes(t *testing.T) {
	cmds := commands()
	for name, c := range cmds {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), []string{name, "--help"}, &out, &errOut); code != 0 {
			t.Errorf("ferry %s --help: exit %d, want 0\n%s", name, code, errOut.String())
		}
		help := errOut.String()
		if strings.Contains(help, "Usage of") {
			t.Errorf("ferry %s --help printed the bare flag package line:\n%s", name, help)
		}
		if want := "usage: ferry " + name + " — " + c.usage; !strings.Contains(help, want) {
			t.Errorf("ferry %s --help does not say what it does (%q):\n%s", name, want, help)
		}
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"keygen", "--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("ferry keygen --bogus: exit %d, want 2", code)
	}
	if n := strings.Count(errOut.String(), "usage: ferry keygen"); n != 1 || !strings.Contains(errOut.String(), "PATH") {
		t.Errorf("ferry keygen --bogus printed its usage %d times, want once, naming PATH:\n%s", n, errOut.String())
	}
}

// TestBackfillHelpPhiTakesNoValue: `ferry backfill --help` showed
// "-phi ferry quarantine list", as if --phi took a value (the flag
// package takes the first back-quoted words of a usage for the value's
// name); --phi is a switch.
func TestBackfillHelpPhiTakesNoValue(t *testing.T) {
	var out, errOut bytes.Buffer
	runMain(context.Background(), []string{"backfill", "--help"}, &out, &errOut)
	if !strings.Contains(errOut.String(), "  -phi\n") {
		t.Errorf("ferry backfill --help shows --phi with a value:\n%s", errOut.String())
	}
}

// TestStartWithUnreadableConfig: `ferry start --config FILE` waits for
// the gateway of FILE to be ready (README); a FILE that could not be
// read or loaded (a typo in its name, a mistake in it) was passed over
// in silence: the service was started and "start done" printed, without
// the wait that says whether the gateway came up. The configuration is
// now loaded first and its error returned, the service left alone.
func TestStartWithUnreadableConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ferry.yml")
	for _, action := range []string{"start", "restart"} {
		var out, errOut bytes.Buffer
		code := runMain(context.Background(), []string{action, "--config", missing}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), missing) {
			t.Errorf("ferry %s --config %s: exit %d, want 1 naming the file\n%s%s", action, missing, code, out.String(), errOut.String())
		}
	}
}
