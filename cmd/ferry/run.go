package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/ferry-health/ferry/config"
)

// cmdRun runs the gateway. Interactively it runs in the foreground until
// SIGINT/SIGTERM; started by systemd or the Windows Service Control Manager
// (after `ferry install`) the same code runs as the service.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	interactive := runsInteractive()
	sys := systemLogger(interactive, *cfgPath)
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return notStarted(sys, err)
	}
	spareProc()
	logPath := logFile(cfg, interactive, runtime.GOOS)
	logOut, closeLog, err := openLogOutput(cfg, logPath, stderr, interactive)
	if err != nil {
		return notStarted(sys, err)
	}
	defer closeLog()
	logger := newLogger(logOut, cfg.Log.Level)
	if logPath != "" && !interactive {
		if err := crashToFile(logPath); err != nil {
			logger.Warn("a crash's report goes to standard error only", "file", crashFile(logPath), "error", err)
		}
	}
	prg := &program{cfg: cfg, log: logger}
	hup, stopHup := hangups()
	defer stopHup()
	if interactive {
		if err := prg.startGateway(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "ferry %s running: %s\n", versionString(), prg.gw.Describe())
		select {
		case <-ctx.Done():
			return prg.stopGateway()
		case <-hup:
			// The terminal went away (an ssh session closed): a
			// clean stop, as for Ctrl-C, rather than Go's default,
			// which ended the process where it stood.
			logger.Info("ferry stopping: its terminal closed (SIGHUP)")
			return prg.stopGateway()
		case ferr := <-prg.gw.Fatal():
			// A component cannot go on (e.g. its listener died, or
			// the queue stopped): stop cleanly and exit non-zero so a
			// supervisor restarts us.
			logger.Error("ferry stopping after a fatal error; exiting with status 1 so that a supervisor restarts it", "reason", ferr.Error())
			return errors.Join(ferr, prg.stopGateway())
		}
	}
	svc, err := service.New(prg, serviceRunConfig(ctx, *cfgPath))
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if sys != nil {
		prg.log = slog.New(withSystemLog(logger.Handler(), sys))
	}
	// A service has no terminal to lose: SIGHUP is an administrator's
	// habit for "reload" (kill -HUP, a logrotate postrotate), which ferry
	// does not do. Go's default ended the process, and systemd counts a
	// death by SIGHUP as a clean exit that Restart=on-failure leaves
	// down; the service says so and runs on.
	ran := make(chan struct{})
	defer close(ran)
	go func() {
		for {
			select {
			case <-hup:
				logger.Warn("SIGHUP ignored: ferry reads its configuration only when it starts; restart the service to apply a change (ferry restart)")
			case <-ran:
				return
			}
		}
	}()
	return svc.Run()
}

// notStarted says why the service did not start in the service manager's
// log (sys, nil for none) when that happens before the gateway has a log
// of its own, and returns err: standard error, where runMain writes it,
// goes nowhere for a Windows service.
func notStarted(sys service.Logger, err error) error {
	if sys != nil {
		slog.New(withSystemLog(slog.DiscardHandler, sys)).Error("ferry did not start", "version", versionString(), "err", err)
	}
	return err
}

// runsInteractive reports whether ferry runs in a terminal rather than
// under the service manager. A variable for the tests.
var runsInteractive = service.Interactive

// systemLogger is the service manager's own log where a service's errors
// also go: on Windows the Application event log (its source is registered
// by install), when ferry runs as the service; nil elsewhere, where
// systemd's journal has standard error. A variable for the tests.
var systemLogger = func(interactive bool, cfgPath string) service.Logger {
	if interactive || runtime.GOOS != "windows" {
		return nil
	}
	svc, err := service.New(&program{}, serviceConfig(cfgPath))
	if err != nil {
		return nil
	}
	sys, err := svc.Logger(nil)
	if err != nil {
		return nil
	}
	return sys
}

// loadConfig reads path, or the embedded default when path is empty.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Parse("embedded default", config.DefaultYAML)
	}
	return config.Load(path)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: plainPathAttrs()}))
}

// program adapts the gateway to kardianos/service: Start must not block.
type program struct {
	cfg *config.Config
	log *slog.Logger
	gw  *gateway
	// exit ends the process after a fatal error (os.Exit when nil).
	exit func(code int)
}

func (p *program) Start(service.Service) error {
	if err := p.startGateway(); err != nil {
		return err
	}
	go p.exitOnFatal(p.gw)
	return nil
}

// Stop is the stop the service manager asked for. What the shutdown had to
// report is logged by stopGateway, not returned: kardianos/service turns
// an error into a non-zero exit code on Windows, and the recovery actions
// (SetRecoveryActionsOnNonCrashFailures) then start the service again
// that an administrator, or the MSI's upgrade, had just stopped.
func (p *program) Stop(service.Service) error {
	_ = p.stopGateway()
	return nil
}

// exitOnFatal ends a service whose gateway cannot go on (a listener died,
// the queue stopped after a failed fsync): it shuts the gateway down
// cleanly and exits with status 1, without telling the service manager it
// stopped, so that systemd (Restart=on-failure) and the Windows Service
// Control Manager (the recovery action `ferry install` and the MSI set)
// restart it. Staying up would only refuse every message.
func (p *program) exitOnFatal(gw *gateway) {
	select {
	case ferr := <-gw.Fatal():
		p.log.Error("ferry stopping after a fatal error; exiting with status 1 so that the service manager restarts it", "reason", ferr.Error())
		if err := p.stopGateway(); err != nil {
			p.log.Error("shutdown after the fatal error", "reason", err.Error())
		}
		exit := p.exit
		if exit == nil {
			exit = os.Exit
		}
		exit(1)
	case <-gw.Done():
	}
}

// startGateway starts the gateway and says so in the log (a service's
// log file, or the event log for a start that failed, is where an
// administrator looks for when it started and why it did not).
func (p *program) startGateway() error {
	// What `ferry config check` warns about is said at every start too,
	// where an unattended gateway's operator will find it in the log
	// (not by the demo, whose configuration is its own).
	for _, w := range p.cfg.Warnings() {
		p.log.Warn("configuration: "+w.Msg, "field", w.Path)
	}
	gw, err := newGateway(p.cfg, p.log)
	if err != nil {
		p.log.Error("ferry did not start", "version", versionString(), "err", err)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		p.log.Error("ferry did not start", "version", versionString(), "err", err)
		shutdownCtx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		gw.Shutdown(shutdownCtx)
		return err
	}
	p.gw = gw
	p.log.Info("ferry started", "version", versionString(), "running", gw.Describe())
	return nil
}

// stopTimeout bounds a stop: what the sources have in flight, delivery's
// grace and the audit trail's flush share it. A variable for the tests.
var stopTimeout = 30 * time.Second

func (p *program) stopGateway() error {
	if p.gw == nil {
		return nil
	}
	// Said at once: the stop may take up to stopTimeout, and a terminal
	// that shows nothing meanwhile invites the second Ctrl-C that ends it
	// where it stands.
	var conns int64
	for _, s := range p.gw.mllps {
		conns += s.Stats().Open
	}
	p.log.Info("ferry stopping: sources finish the messages in flight, then delivery and the audit trail",
		"mllp_connections", conns, "deliveries_in_flight", p.gw.disp.Stats().InFlight, "at_most", stopTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := p.gw.Shutdown(ctx)
	if err != nil {
		p.log.Error("ferry stopped with an error", "version", versionString(), "err", err)
	} else {
		// With the version, as the start: after an upgrade the log
		// shows which release stopped and which one started.
		p.log.Info("ferry stopped", "version", versionString())
	}
	return err
}

// serviceRunConfig is serviceConfig for running as the service: on Linux
// and the other Unix systems it waits for main's signal context (ctx),
// which catches SIGTERM and SIGINT from the process's start, rather than
// for kardianos/service's own signal handler, which is installed only
// after Start returns: a stop systemd asked for during a long start (a
// queue replay) went to ctx, unread, and the service ran on until
// TimeoutStopSec killed it. Windows stops through the Service Control
// Manager and ignores RunWait.
func serviceRunConfig(ctx context.Context, cfgPath string) *service.Config {
	sc := serviceConfig(cfgPath)
	sc.Option = service.KeyValue{"RunWait": func() { <-ctx.Done() }}
	return sc
}

// serviceConfig describes the ferry service to the OS service manager.
func serviceConfig(cfgPath string) *service.Config {
	args := []string{"run"}
	if cfgPath != "" {
		if abs, err := filepath.Abs(cfgPath); err == nil {
			cfgPath = abs
		}
		args = append(args, "--config", cfgPath)
	}
	exe, _ := os.Executable()
	return &service.Config{
		Name:        "ferry",
		DisplayName: "ferry health data gateway",
		Description: "Converts HL7 v2, C-CDA and fax to FHIR R4 and delivers it durably over mutual TLS.",
		Arguments:   args,
		Executable:  exe,
	}
}
