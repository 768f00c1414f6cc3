package installer

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
)

var update = flag.Bool("update", false, "rewrite linux/ferry.yaml from RenderConfig")

// TestPackageConfig keeps the conffile the packages ship identical to what
// `ferry init` writes with its defaults, and valid.
func TestPackageConfig(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Linux package layout")
	}
	got := RenderConfig(ConfigDefaults())
	if *update {
		if err := os.WriteFile("linux/ferry.yaml", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != string(DefaultConfigYAML) {
		t.Fatalf("linux/ferry.yaml differs from RenderConfig(ConfigDefaults()); run go test ./installer -update")
	}
	win := RenderConfig(windowsAnswers)
	if *update {
		if err := os.WriteFile("windows/ferry.yaml", win, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile("windows/ferry.yaml"); string(b) != string(win) {
		t.Fatalf("windows/ferry.yaml differs from RenderConfig; run go test ./installer -update")
	}
	if _, err := config.Parse("windows/ferry.yaml", win); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("ferry.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/ferry" || cfg.Exchange.URL != "" || len(cfg.Sources.MLLP) != 1 || cfg.Status.Listen != "127.0.0.1:8089" {
		t.Fatalf("package config: %+v", cfg)
	}
}

func TestRenderConfigPassesCheck(t *testing.T) {
	cases := []Answers{
		{},
		{ExchangeURL: "https://hie.example.org/fhir/R4", CAFile: "/etc/ferry/ca.pem", CertFile: "/etc/ferry/c.pem", KeyFile: "/etc/ferry/c.key",
			MLLPListen: "0.0.0.0:2575", DataDir: `C:\ProgramData\ferry\data`, StatusListen: "127.0.0.1:18089"},
		{ExchangeURL: "https://hie.example.org/fhir/R4", CertFile: "/etc/ferry/c.pem", KeyFile: "/etc/ferry/c.key"}, // system roots
		{ExchangeURL: "https://10.0.0.5:8443/fhir", CAFile: "ca with spaces.pem", CertFile: "c with spaces.pem", KeyFile: "k: #odd.key",
			ServerName: "hie.internal", DataDir: `it's "odd": #path`},
		{DataDir: "tab\there"},
	}
	for i, a := range cases {
		b := RenderConfig(a)
		cfg, err := config.Parse("init.yaml", b)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, b)
		}
		want := a.withDefaults()
		if cfg.DataDir != want.DataDir || cfg.Exchange.URL != a.ExchangeURL || cfg.Exchange.TLS.CAFile != a.CAFile ||
			cfg.Exchange.TLS.CertFile != a.CertFile || cfg.Exchange.TLS.KeyFile != a.KeyFile || cfg.Exchange.TLS.ServerName != a.ServerName ||
			cfg.Sources.MLLP[0].Listen != want.MLLPListen || cfg.Status.Listen != want.StatusListen {
			t.Errorf("case %d: answers not carried into the config: %+v", i, cfg)
		}
		if !strings.Contains(string(b), "# ") {
			t.Errorf("case %d: no comments", i)
		}
	}
}

func TestRenderConfigRejectsBadAnswers(t *testing.T) {
	// A http URL must be caught by the config check (init refuses to write it).
	_, err := config.Parse("init.yaml", RenderConfig(Answers{ExchangeURL: "http://hie.example.org/"}))
	if err == nil || !strings.Contains(err.Error(), "exchange.url") {
		t.Fatalf("http URL accepted: %v", err)
	}
	// The exchange is reached with mutual TLS: no client certificate, no config.
	_, err = config.Parse("init.yaml", RenderConfig(Answers{ExchangeURL: "https://h/", CAFile: "ca.pem"}))
	if err == nil || !strings.Contains(err.Error(), "exchange.tls.cert_file: required") || !strings.Contains(err.Error(), "exchange.tls.key_file: required") {
		t.Fatalf("exchange without client certificate accepted: %v", err)
	}
	_, err = config.Parse("init.yaml", RenderConfig(Answers{ExchangeURL: "https://h/", CertFile: "c.pem"}))
	if err == nil || !strings.Contains(err.Error(), "exchange.tls.cert_file: set but key_file is empty") {
		t.Fatalf("cert without key accepted: %v", err)
	}
}

func TestSystemdUnit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the systemd unit is rendered from the Linux package layout; PackageLayout here is the MSI's")
	}
	l := PackageLayout()
	got, err := RenderSystemdUnit(l.Binary, []string{"run", "--config", l.ConfigFile}, l.DataDir, []string{l.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if got != SystemdUnit {
		t.Fatalf("rendering the package layout changes the unit:\n%s", got)
	}
	for _, want := range []string{"Type=simple", "User=ferry", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/ferry", "PrivateTmp=yes",
		"Restart=on-failure"} { // ferry exits 1 after a fatal error (a stopped queue): start it again
		if !strings.Contains(SystemdUnit, want+"\n") {
			t.Errorf("unit lacks %s", want)
		}
	}
	got, err = RenderSystemdUnit("/opt/ferry dir/ferry", []string{"run", "--config", "/opt/ferry dir/f.yaml"}, "/srv/ferry",
		[]string{"/srv/ferry", "/srv/exports", "/srv/exports/", "/var/spool/fax 100%"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ExecStart="/opt/ferry dir/ferry" run --config "/opt/ferry dir/f.yaml"` + "\n",
		`ReadWritePaths=/srv/ferry /srv/exports "/var/spool/fax 100%%"` + "\n",
		"WorkingDirectory=/srv/ferry\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered unit lacks %q:\n%s", want, got)
		}
	}
	if _, err := RenderSystemdUnit("/usr/bin/ferry", nil, "/x", []string{"relative/dir"}); err == nil {
		t.Error("relative writable path accepted")
	}
	if _, err := RenderSystemdUnit("/usr/bin/ferry", []string{"a\nExecStartPre=/bin/sh"}, "/x", nil); err == nil {
		t.Error("newline in an argument accepted")
	}
}

func TestPackageFilesAgree(t *testing.T) {
	// The nfpm config installs the unit and the conffile this package embeds.
	b, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"installer/linux/ferry.service", "installer/linux/ferry.yaml", "/etc/ferry/ferry.yaml", "/usr/bin/ferry", "type: config|noreplace"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("nfpm.yaml lacks %q", want)
		}
	}
	wxs, err := os.ReadFile(filepath.Join("windows", "ferry.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	// A newer MSI must replace the installed one, after installing itself
	// (InstallFinalize is 6600), so that ferry.yaml is kept.
	for _, want := range []string{"<ServiceInstall", `Account="NT SERVICE\ferry"`, "<ServiceControl", `Name="ferry"`, "<MajorUpgrade ", `<RemoveExistingProducts Sequence="6601"/>`} {
		if !strings.Contains(string(wxs), want) {
			t.Errorf("ferry.wxs lacks %q", want)
		}
	}
}

// TestRenderConfigFoldersUncommented: the written file's commented folder
// sources, an EHR export folder and a fax inbox, uncommented as the file
// says, pass the check. The template showed an ehr folder only, whose
// "kind: ehr | fax | hylafax" invited a fax folder that the check then
// refused ("fax.source_id: required"), with no fax: section to uncomment.
func TestRenderConfigFoldersUncommented(t *testing.T) {
	for _, a := range []Answers{{}, {ExchangeURL: "https://hie.example.org/fhir/R4", CertFile: "/etc/ferry/c.pem", KeyFile: "/etc/ferry/c.key"}} {
		var out []string
		block := ""
		for _, line := range strings.Split(string(RenderConfig(a)), "\n") {
			switch {
			case line == "  # folders:":
				block = "  # "
			case line == "# fax:":
				block = "# "
			case block != "" && !strings.HasPrefix(line, block):
				block = ""
			}
			if block != "" {
				line = strings.Replace(line, block, strings.Repeat(" ", len(block)-2), 1)
			}
			out = append(out, line)
		}
		b := []byte(strings.Join(out, "\n"))
		cfg, err := config.Parse("init.yaml", b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if len(cfg.Sources.Folders) != 2 || cfg.Sources.Folders[0].Kind != "ehr" || cfg.Sources.Folders[1].Kind != "fax" || cfg.Fax.SourceID == "" {
			t.Fatalf("uncommented folders not read: %+v, fax %+v\n%s", cfg.Sources.Folders, cfg.Fax, b)
		}
	}
}

// TestSystemdUnitPathsAsSystemdReadsThem: `ferry install` quoted every
// path with a space, a dollar or a percent sign alike, as a command line
// wants it, and so wrote WorkingDirectory="/srv/clinic data", which
// systemd reads as a relative path (it unquotes no single-path setting):
// "Unit configuration has fatal error, unit will not be started". The
// binary's ConditionFileIsExecutable was ignored the same way, and a
// folder named like a Windows share (/mnt/scans$) went to ReadWritePaths
// as /mnt/scans$$, since only command lines expand $VARIABLES: a folder
// that does not exist, and the unit fails to start. Each line is now
// written as systemd reads it; systemd-analyze verify, where installed,
// accepts the unit.
func TestSystemdUnitPathsAsSystemdReadsThem(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("systemd units are Linux's")
	}
	base := t.TempDir()
	exe := filepath.Join(base, "opt", "ferry 2", "ferry")
	data := filepath.Join(base, "srv", "clinic data")
	scans := filepath.Join(base, "mnt", "scans$")
	fax := filepath.Join(base, "var", "fax 100%")
	for _, d := range []string{filepath.Dir(exe), data, scans, fax} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := RenderSystemdUnit(exe, []string{"run", "--config", filepath.Join(base, "etc", "$ferry.yaml")}, data, []string{data, scans, fax})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=\"" + exe + "\" run --config \"" + filepath.Join(base, "etc", "$$ferry.yaml") + "\"\n",
		"WorkingDirectory=" + data + "\n",
		"ConditionFileIsExecutable=" + exe + "\n",
		"ReadWritePaths=\"" + data + "\" " + scans + " \"" + strings.ReplaceAll(fax, "%", "%%") + "\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	if _, err := RenderSystemdUnit(exe, nil, data+" ", nil); err == nil {
		t.Error("a working directory ending in a space, which systemd drops, accepted")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return
	}
	unit := filepath.Join(base, "ferry.service")
	if err := os.WriteFile(unit, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	// It also finds what a unit outside a booted systemd lacks (the user
	// ferry, say): only what it says of the paths counts here.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "not absolute") || strings.Contains(l, "fatal error") || strings.Contains(l, "ignoring") {
			t.Errorf("systemd-analyze verify: %s (%v)\n%s", l, err, got)
		}
	}
}

// windowsAnswers are ConfigDefaults on Windows: the MSI's ferry.yaml.
var windowsAnswers = Answers{DataDir: `C:\ProgramData\ferry\data`, ConfigDir: `C:\ProgramData\ferry`}

// TestWindowsConfigKeepsKeysInProgramData: the ferry.yaml the MSI installs
// told the contractor to make the encryption key with `ferry keygen
// /etc/ferry/ferry.key` and to put the exchange's client key at
// /etc/ferry/client.key, which on Windows are C:\etc\ferry\..., a folder
// that inherits C:\'s ACL, where every local user may read: the keys
// that open the queue and sign in to the exchange, outside the one
// folder whose ACL protects them (%ProgramData%\ferry, installer/README).
// Its examples now name that folder; the Linux file keeps /etc/ferry.
func TestWindowsConfigKeepsKeysInProgramData(t *testing.T) {
	win, err := os.ReadFile("windows/ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(win), "/etc/") {
		t.Errorf("windows/ferry.yaml names /etc/:\n%s", grepLines(string(win), "/etc/"))
	}
	for _, want := range []string{"`ferry keygen C:\\ProgramData\\ferry\\ferry.key`", `key_file: C:\ProgramData\ferry\client.key`} {
		if !strings.Contains(string(win), want) {
			t.Errorf("windows/ferry.yaml has no %s", want)
		}
	}
	// Uncommented as they are, the examples are what they show.
	uncommented := strings.Replace(string(win), "# encryption:\n#   key_file: ", "encryption:\n  key_file: ", 1)
	if cfg, err := config.Parse("ferry.yaml", []byte(uncommented)); err != nil {
		t.Errorf("windows/ferry.yaml with encryption uncommented: %v", err)
	} else if cfg.Encryption.KeyFile != `C:\ProgramData\ferry\ferry.key` {
		t.Errorf("encryption.key_file %q", cfg.Encryption.KeyFile)
	}
	if lin := RenderConfig(Answers{DataDir: "/var/lib/ferry", ConfigDir: "/etc/ferry"}); !strings.Contains(string(lin), "`ferry keygen /etc/ferry/ferry.key`") {
		t.Errorf("the Linux file's keygen example:\n%s", grepLines(string(lin), "keygen"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
