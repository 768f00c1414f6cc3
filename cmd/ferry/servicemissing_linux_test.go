package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

// withSystemctl makes kardianos/service drive systemd through a stand-in
// systemctl (this machine runs no systemd, and a real one must not be
// changed by a test): units lists the unit files it knows, state is what
// is-active says of ferry.service. It returns the file the stand-in logs
// its calls to. rpm-ostree beside it is what kardianos/service takes for
// a systemd host.
func withSystemctl(t *testing.T, units, state string) (calls string) {
	t.Helper()
	if _, err := os.Stat(installedUnit); err == nil {
		t.Skipf("%s exists on this machine", installedUnit)
	}
	bin := t.TempDir()
	calls = filepath.Join(bin, "calls")
	script := `#!/bin/sh
echo "$*" >> ` + calls + `
case "$1" in
is-active) echo ` + state + `; [ ` + state + ` = active ] && exit 0; exit 3 ;;
show) [ -n "` + units + `" ] && echo loaded || echo not-found ;;
list-unit-files) printf '%s' "` + units + `"; [ -n "` + units + `" ] && exit 0; echo "0 unit files listed."; exit 1 ;;
start|restart) [ -n "` + units + `" ] && exit 0; echo "Failed to $1 ferry.service: Unit ferry.service not found." >&2; exit 5 ;;
stop) [ -n "` + units + `" ] && exit 0; echo "Failed to stop ferry.service: Unit ferry.service not loaded." >&2; exit 5 ;;
disable) [ -n "` + units + `" ] && exit 0; echo "Failed to disable unit: Unit file ferry.service does not exist." >&2; exit 1 ;;
esac
exit 0
`
	for name, body := range map[string]string{"systemctl": script, "rpm-ostree": "#!/bin/sh\nexit 0\n"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path, systems := os.Getenv("PATH"), service.AvailableSystems()
	os.Setenv("PATH", bin)
	service.ChooseSystem(systems...)
	t.Cleanup(func() {
		os.Setenv("PATH", path)
		service.ChooseSystem(systems...)
	})
	if p := service.ChosenSystem().String(); p != "linux-systemd" {
		t.Skipf("kardianos/service chose %s", p)
	}
	return calls
}

// TestServiceCommandsWhenNotInstalled: on a machine where ferry is not
// installed, `ferry start`, `stop`, `restart` and `uninstall` said
// "Failed to start ferry health data gateway: exit status 5" (systemctl's
// own words are not passed on), though the commands mean to say the
// service is not installed: kardianos/service never calls it so. They ask
// the service manager first and say so, changing nothing.
func TestServiceCommandsWhenNotInstalled(t *testing.T) {
	calls := withSystemctl(t, "", "inactive")
	for _, action := range []string{"start", "stop", "restart", "uninstall"} {
		run := serviceControl(action)
		if action == "uninstall" {
			run = cmdUninstall
		}
		os.Remove(calls)
		err := run(context.Background(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "the ferry service is not installed") {
			t.Errorf("ferry %s, not installed: %v, want it said that the service is not installed", action, err)
		}
		b, _ := os.ReadFile(calls)
		for _, l := range strings.Split(string(b), "\n") {
			if verb, _, _ := strings.Cut(l, " "); verb != "" && verb != "is-active" && verb != "list-unit-files" && verb != "show" {
				t.Errorf("ferry %s, not installed, ran systemctl %s", action, l)
			}
		}
	}
}

// TestUninstallLeavesThePackagesService: the .deb and .rpm ship the unit
// as /lib/systemd/system/ferry.service, which `ferry uninstall` does not
// remove (it removes the unit `ferry install` writes, in /etc): it
// stopped and disabled the package's service all the same, then failed on
// the file it had not written ("remove /etc/systemd/system/ferry.service:
// no such file or directory"), and the clinic's gateway stayed down, off
// at the next boot, with the package still installed. It now changes
// nothing and says the service is the package's, to be removed with it.
func TestUninstallLeavesThePackagesService(t *testing.T) {
	calls := withSystemctl(t, "UNIT FILE     STATE   PRESET\nferry.service enabled enabled\n\n1 unit files listed.\n", "active")
	err := cmdUninstall(context.Background(), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "package") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("ferry uninstall of the package's service: %v, want it said that the package installed it and nothing was changed", err)
	}
	b, _ := os.ReadFile(calls)
	for _, l := range strings.Split(string(b), "\n") {
		if verb, _, _ := strings.Cut(l, " "); verb != "" && verb != "is-active" && verb != "list-unit-files" && verb != "show" {
			t.Errorf("ferry uninstall of the package's service ran systemctl %s", l)
		}
	}
}

// TestStartRefusesTheServicesBrokenConfig: `ferry start` (and restart)
// without --config checked no configuration: with the package's file
// broken (a typo after an edit) it started the service, which failed at
// once and again every 5 s (Restart=on-failure), skipped the wait for
// the gateway since the file did not load, and said "start done". The
// file the service runs is checked first, as a --config is, and the
// service left as it is.
func TestStartRefusesTheServicesBrokenConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: /var/lib/ferry\nexchange:\n  url: ftp://hie.example.org\n  retry: {max_age: soon}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := packageConfig
	packageConfig = func() string { return cfg }
	t.Cleanup(func() { packageConfig = old })
	calls := withSystemctl(t, "ferry.service enabled enabled\n", "inactive")
	for _, action := range []string{"start", "restart"} {
		os.Remove(calls)
		var out strings.Builder
		err := serviceControl(action)(context.Background(), nil, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), cfg) || !strings.Contains(err.Error(), "left as it is") {
			t.Errorf("ferry %s with %s broken: %v (said %q), want the file named and the service left as it is", action, cfg, err, out.String())
		}
		b, _ := os.ReadFile(calls)
		if strings.Contains(string(b), action+" ") {
			t.Errorf("ferry %s with %s broken ran systemctl:\n%s", action, cfg, b)
		}
	}
}

// TestServiceCommandsWhileStopping: kardianos/service's Status takes any
// state it does not know (deactivating, while ferry finishes its stop,
// up to 30 s; reloading) for a service not installed; ferry start then
// is not refused as if there were no service.
func TestServiceCommandsWhileStopping(t *testing.T) {
	calls := withSystemctl(t, "ferry.service enabled enabled\n", "deactivating")
	if err := serviceControl("stop")(context.Background(), nil, io.Discard, io.Discard); err != nil {
		t.Errorf("ferry stop while the service stops: %v", err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "stop ferry.service") {
		t.Errorf("ferry stop while the service stops did not stop it:\n%s", b)
	}
}
