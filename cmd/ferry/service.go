package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
)

// cmdInstall registers ferry with the OS service manager (systemd, the
// Windows Service Control Manager) to run `ferry run --config FILE` as the
// dedicated low-privilege account, after creating that account (Linux) and
// locking its folders down. --folders-only does the account and folders
// but registers nothing (the MSI's custom action and a re-run after
// changing data_dir use it).
func cmdInstall(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("install", stderr)
	cfgPath := fs.String("config", "", "configuration file the service runs with (default: "+installer.PackageLayout().ConfigFile+")")
	foldersOnly := fs.Bool("folders-only", false, "create the account and set folder permissions; do not register the service")
	dryRun := fs.Bool("dry-run", false, "print what would be done (and the systemd unit) without changing anything")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	if !*dryRun && !installer.IsAdmin() {
		// Said before anything is read or made: the package's
		// configuration is root's to read, and the account, the
		// folders' owners and the service are root's to change.
		cmd := "ferry install"
		if *foldersOnly {
			cmd += " --folders-only"
		}
		if *cfgPath != "" {
			cmd += " --config " + shellWord(*cfgPath)
		}
		if runtime.GOOS == "windows" {
			return fmt.Errorf("install: run it from an administrator prompt (Run as administrator): %s; nothing was changed", cmd)
		}
		return fmt.Errorf("install: run it as root: sudo %s; nothing was changed", cmd)
	}
	path, cfg, err := serviceConfigFile(*cfgPath)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(cfg.DataDir) {
		return fmt.Errorf("%s: data_dir %q must be an absolute path for a service (a service does not start in this folder)", path, cfg.DataDir)
	}
	if cfg.Log.File != "" && !filepath.IsAbs(cfg.Log.File) {
		return fmt.Errorf("%s: log.file %q must be an absolute path for a service (a service does not start in this folder)", path, cfg.Log.File)
	}
	if rel := relativeServicePaths(cfg); len(rel) > 0 {
		return fmt.Errorf("%s: %s must be an absolute path for a service (a service does not start in this folder: the unit starts it in data_dir, Windows in System32, so it would look elsewhere)", path, strings.Join(rel, ", "))
	}
	layout := serviceLayout(path, cfg)
	if err := checkLogDir(layout.LogDir); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if runtime.GOOS == "linux" {
		for _, w := range hiddenByUnit(serviceConfig(path).Executable, path, cfg, layout) {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	sc, err := installServiceConfig(path, cfg)
	if err != nil {
		return err
	}
	if *dryRun {
		return printInstallPlan(stdout, sc, layout)
	}
	created, err := installer.EnsureAccount(cfg.DataDir)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created system account %s\n", installer.Account)
	}
	prepare := func() error {
		if err := installer.PrepareFolders(layout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "folders ready: data %s (service account only)", layout.DataDir)
		if layout.LogDir != "" {
			fmt.Fprintf(stdout, ", log %s", layout.LogDir)
		}
		if layout.ConfigDir != "" {
			fmt.Fprintf(stdout, ", config %s (service may read)", layout.ConfigDir)
		}
		fmt.Fprintln(stdout)
		return nil
	}
	// Windows resolves NT SERVICE\ferry only once the service exists, so
	// its ACLs are set after registering; elsewhere the folders come first
	// so the service never starts without them.
	if *foldersOnly || runtime.GOOS != "windows" {
		if err := prepare(); err != nil {
			return err
		}
	}
	if *foldersOnly {
		if runtime.GOOS == "linux" {
			fmt.Fprint(stdout, packagedUnitNote(path, cfg))
		}
		if runtime.GOOS == "windows" {
			// The MSI's custom action: the service it registered has
			// no recovery actions of its own. Run by hand before the
			// service exists, there is nothing to set yet.
			if err := installer.SetRestartOnFailure(); err != nil {
				fmt.Fprintf(stderr, "warning: %v\n", err)
			}
			if err := installer.RegisterEventSource(); err != nil {
				fmt.Fprintf(stderr, "warning: %v\n", err)
			}
		}
		return nil
	}
	svc, err := service.New(&program{}, sc)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := svc.Install(); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("install: the ferry service is already installed (run `ferry uninstall` first to change it): %w", err)
		}
		return fmt.Errorf("install: %w", err)
	}
	if runtime.GOOS == "windows" {
		if err := prepare(); err != nil {
			return fmt.Errorf("service registered, but %w", err)
		}
		if err := installer.SetRestartOnFailure(); err != nil {
			return fmt.Errorf("service registered, but %w", err)
		}
	}
	fmt.Fprintf(stdout, "installed service %q (%s) running as %s with %s\nstart it with: ferry start\n",
		sc.Name, svc.Platform(), orDefault(sc.UserName, "the service manager's default account"), path)
	return nil
}

// shellWord is s as one word of a command line to copy: quoted when it
// holds a space.
func shellWord(s string) string {
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// hiddenByUnit warns of each file and folder the service uses that the
// hardened unit hides from it: those in a home folder (ProtectHome=yes:
// /home, /root and /run/user are empty and inaccessible to it) and in
// /tmp or /var/tmp (PrivateTmp=yes: it has an empty one of its own),
// beginning with exe, the binary the unit runs (ExecStart), which
// systemd cannot run there at all.
func hiddenByUnit(exe, cfgPath string, cfg *config.Config, l installer.Layout) []string {
	var warns []string
	for _, dir := range []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"} {
		if exe != "" && isWithin(dir, exe) {
			warns = append(warns, fmt.Sprintf("the ferry binary %s is under %s, which the hardened unit hides from the service (ProtectHome=yes, PrivateTmp=yes), so systemd could not run it; copy it to /usr/local/bin (or install the package) and run install from there", exe, dir))
		}
	}
	paths := []string{cfgPath, cfg.DataDir, l.LogDir}
	for _, f := range cfg.Sources.Folders {
		paths = append(paths, f.Path)
		if p, err := f.Config.Config.ResolvePaths(); err == nil {
			paths = append(paths, p.Work, p.Done, p.Failed)
		}
	}
	paths = append(paths, l.Readable...)
	paths = append(paths, l.Private...)
	var named []string
	for _, p := range paths {
		// A folder's work folder and archives inside it go unsaid.
		if p == "" || slices.ContainsFunc(named, func(n string) bool { return isWithin(n, p) }) {
			continue
		}
		named = append(named, p)
		for _, home := range []string{"/home", "/root", "/run/user"} {
			if isWithin(home, p) {
				warns = append(warns, fmt.Sprintf("%s is under a home folder, which the hardened unit hides from the service (ProtectHome=yes); use /etc/ferry and /var/lib/ferry, or a folder such as /srv", p))
			}
		}
		for _, tmp := range []string{"/tmp", "/var/tmp"} {
			if isWithin(tmp, p) {
				warns = append(warns, fmt.Sprintf("%s is under %s, where the hardened unit gives the service an empty one of its own (PrivateTmp=yes); use /etc/ferry and /var/lib/ferry, or a folder such as /srv", p, tmp))
			}
		}
	}
	return warns
}

// printInstallPlan tells what install would do, for review before it does.
func printInstallPlan(w io.Writer, sc *service.Config, l installer.Layout) error {
	fmt.Fprintf(w, "would register service %q: %s %s\n", sc.Name, sc.Executable, strings.Join(sc.Arguments, " "))
	fmt.Fprintf(w, "running as: %s\n", orDefault(sc.UserName, "the service manager's default account"))
	fmt.Fprintf(w, "data folder (service account only): %s\n", l.DataDir)
	if l.ConfigDir != "" {
		fmt.Fprintf(w, "config folder (service may read): %s\n", l.ConfigDir)
	}
	if l.LogDir != "" {
		fmt.Fprintf(w, "log folder (service account writes): %s\n", l.LogDir)
	}
	for _, d := range l.WorkDirs {
		fmt.Fprintf(w, "folder work folder (service account only, created if missing): %s\n", d)
	}
	for _, f := range append([]string{l.ConfigFile}, l.Readable...) {
		fmt.Fprintf(w, "readable by the service: %s\n", f)
	}
	for _, f := range l.Private {
		fmt.Fprintf(w, "readable by the service only: %s\n", f)
	}
	if unit, ok := sc.Option["SystemdScript"].(string); ok {
		fmt.Fprintf(w, "systemd unit:\n%s", unit)
	}
	return nil
}

// relativeServicePaths names each folder and file of cfg the service
// reads or writes that is given by a relative path, as `field "path"`: a
// relative path is taken from the folder a process starts in, which for
// the service is not the one install runs in.
func relativeServicePaths(cfg *config.Config) []string {
	var rel []string
	check := func(field, p string) {
		if p != "" && !filepath.IsAbs(p) {
			rel = append(rel, fmt.Sprintf("%s %q", field, p))
		}
	}
	checkTLS := func(field, ca, cert, key string) {
		check(field+".ca_file", ca)
		check(field+".cert_file", cert)
		check(field+".key_file", key)
	}
	check("encryption.key_file", cfg.Encryption.KeyFile)
	for i, p := range cfg.Encryption.PreviousKeyFiles {
		check(fmt.Sprintf("encryption.previous_key_files[%d]", i), p)
	}
	for i, m := range cfg.Sources.MLLP {
		if m.TLS != nil {
			p := fmt.Sprintf("sources.mllp[%d].tls", i)
			check(p+".client_ca_file", m.TLS.ClientCAFile)
			checkTLS(p, "", m.TLS.CertFile, m.TLS.KeyFile)
		}
	}
	for i, f := range cfg.Sources.Folders {
		p := fmt.Sprintf("sources.folders[%d]", i)
		check(p+".path", f.Path)
		check(p+".work_dir", f.WorkDir)
		check(p+".done_dir", f.DoneDir)
		check(p+".failed_dir", f.FailedDir)
		check(p+".xferfaxlog", f.XferFaxLog)
		if f.Fetch != nil {
			check(p+".fetch.key_file", f.Fetch.KeyFile)
			check(p+".fetch.known_hosts", f.Fetch.KnownHosts)
		}
	}
	for i, m := range cfg.Sources.Mailboxes {
		p := fmt.Sprintf("sources.mailboxes[%d]", i)
		check(p+".password_file", m.PasswordFile)
		checkTLS(p+".tls", m.TLS.CAFile, m.TLS.CertFile, m.TLS.KeyFile)
		if o := m.OAuth2; o != nil {
			check(p+".oauth2.ca_file", o.CAFile)
			check(p+".oauth2.client_secret_file", o.ClientSecretFile)
			check(p+".oauth2.client_cert_file", o.ClientCertFile)
			check(p+".oauth2.client_key_file", o.ClientKeyFile)
			check(p+".oauth2.service_account_file", o.ServiceAccountFile)
		}
	}
	if cfg.Exchange.URL != "" {
		checkTLS("exchange.tls", cfg.Exchange.TLS.CAFile, cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile)
		check("exchange.auth.smart.key_file", cfg.Exchange.Auth.SMART.KeyFile)
		check("exchange.auth.udap.cert_file", cfg.Exchange.Auth.UDAP.CertFile)
		check("exchange.auth.udap.key_file", cfg.Exchange.Auth.UDAP.KeyFile)
		check("exchange.auth.udap.trust_anchors", cfg.Exchange.Auth.UDAP.TrustAnchors)
		check("exchange.sftp.key_file", cfg.Exchange.SFTP.KeyFile)
		check("exchange.sftp.known_hosts", cfg.Exchange.SFTP.KnownHosts)
	}
	if cfg.Audit.Enabled() {
		checkTLS("audit.tls", cfg.Audit.TLS.CAFile, cfg.Audit.TLS.CertFile, cfg.Audit.TLS.KeyFile)
	}
	check("proxy.ca_file", cfg.Proxy.CAFile)
	return rel
}

// serviceLayout names the folders `ferry install` prepares. The config
// folder is tightened only when it is ferry's own (named "ferry", as
// /etc/ferry or ProgramData\ferry are): a config file kept in a shared
// folder must not change that folder's permissions.
func serviceLayout(cfgPath string, cfg *config.Config) installer.Layout {
	l := installer.Layout{ConfigFile: cfgPath, DataDir: cfg.DataDir}
	if dir := filepath.Dir(cfgPath); strings.EqualFold(filepath.Base(dir), "ferry") {
		l.ConfigDir = dir
	}
	readable := func(p string) {
		if p != "" && !slices.Contains(l.Readable, p) {
			l.Readable = append(l.Readable, p)
		}
	}
	// Certificates, CA files and known_hosts hold no secret, and may be
	// the system's own (/etc/ssl/certs/ca-certificates.crt): install
	// leaves one others can read as it is (installer.Layout.Public). A
	// file also named as a key (add) is not public.
	var keys, public []string
	add := func(p string) {
		readable(p)
		keys = append(keys, p)
	}
	pub := func(p string) {
		readable(p)
		public = append(public, p)
	}
	private := func(p string) {
		if p != "" && !slices.Contains(l.Private, p) {
			l.Private = append(l.Private, p)
		}
	}
	if cfg.Encryption.KeyFile != "" {
		// Previous keys are loaded at start as key_file is.
		l.Private = append(l.Private, cfg.Encryption.KeyFile)
		l.Private = append(l.Private, cfg.Encryption.PreviousKeyFiles...)
	}
	pub(cfg.Exchange.TLS.CertFile)
	add(cfg.Exchange.TLS.KeyFile)
	pub(cfg.Exchange.TLS.CAFile)
	for _, m := range cfg.Sources.MLLP {
		if m.TLS != nil {
			pub(m.TLS.CertFile)
			add(m.TLS.KeyFile)
			pub(m.TLS.ClientCAFile)
		}
	}
	// The audit repository's client certificate: without it the service
	// could not send the trail and its spool would fill.
	pub(cfg.Audit.TLS.CertFile)
	add(cfg.Audit.TLS.KeyFile)
	pub(cfg.Audit.TLS.CAFile)
	// Read by the running service at delivery time, for tokens and the
	// proxy: a key left root's would fail every token request.
	add(cfg.Exchange.Auth.SMART.KeyFile)
	pub(cfg.Exchange.Auth.UDAP.CertFile)
	add(cfg.Exchange.Auth.UDAP.KeyFile)
	pub(cfg.Exchange.Auth.UDAP.TrustAnchors)
	pub(cfg.Proxy.CAFile)
	// SFTP logins read ferry's SSH key and known_hosts at each login.
	if cfg.Exchange.FileDrop() {
		add(cfg.Exchange.SFTP.KeyFile)
		pub(cfg.Exchange.SFTP.KnownHosts)
	}
	for _, f := range cfg.Sources.Folders {
		if f.Fetch != nil {
			add(f.Fetch.KeyFile)
			pub(f.Fetch.KnownHosts)
		}
	}
	// A fax mailbox's secrets are read at each poll and are the
	// account's alone (doctor warns about any other mode); its CA files
	// and client certificate are read as the TLS files are.
	for _, m := range cfg.Sources.Mailboxes {
		pub(m.TLS.CAFile)
		private(m.PasswordFile)
		if o := m.OAuth2; o != nil {
			pub(o.CAFile)
			pub(o.ClientCertFile)
			private(o.ClientSecretFile)
			private(o.ClientKeyFile)
			private(o.ServiceAccountFile)
		}
	}
	l.LogDir = logDirOutside(cfg)
	for _, f := range cfg.Sources.Folders {
		// A work folder inside the watched one (.ferry) is made by the
		// gateway; one beside it (a HylaFAX inbox's) needs rights on the
		// parent that only install has.
		p, err := f.Config.Config.ResolvePaths()
		abs, aerr := filepath.Abs(f.Path)
		if err != nil || aerr != nil {
			continue
		}
		if rel, err := filepath.Rel(abs, p.Work); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		l.WorkDirs = append(l.WorkDirs, p.Work)
	}
	for _, p := range public {
		if p != "" && !slices.Contains(l.Public, p) && !slices.Contains(keys, p) && !slices.Contains(l.Private, p) {
			l.Public = append(l.Public, p)
		}
	}
	return l
}

// checkLogDir refuses a log folder that install would take over although
// it is not ferry's: install gives the log folder to the service account
// (owner and mode, or an ACL without inheritance, and the unit's
// ReadWritePaths), which for /var/log or C:\ProgramData would lock
// everyone else out of it. A folder that does not exist yet is created
// for ferry; one that exists must have "ferry" in its path.
func checkLogDir(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, el := range strings.FieldsFunc(filepath.ToSlash(dir), func(r rune) bool { return r == '/' }) {
		if strings.Contains(strings.ToLower(el), "ferry") {
			return nil
		}
	}
	return fmt.Errorf("log.file: its folder %s exists and is not ferry's own, and install would give it to the service account; put the log in a folder of its own, e.g. %s", dir, filepath.Join(dir, "ferry", "ferry.log"))
}

// logDirOutside is the folder of log.file when it is not inside the data
// folder (which the service may write already), else "".
func logDirOutside(cfg *config.Config) string {
	if cfg.Log.File == "" {
		return ""
	}
	dir := filepath.Dir(filepath.Clean(cfg.Log.File))
	if rel, err := filepath.Rel(filepath.Clean(cfg.DataDir), dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return dir
}

// installServiceConfig is serviceConfig plus what only installation needs:
// the account and, for systemd, ferry's hardened unit with this binary,
// this config and every folder the service writes to.
func installServiceConfig(cfgPath string, cfg *config.Config) (*service.Config, error) {
	sc := serviceConfig(cfgPath)
	sc.UserName = installer.ServiceUser()
	sc.Option = service.KeyValue{
		"OnFailure":              "restart", // Windows: restart after a crash
		"OnFailureDelayDuration": "5s",
		"DelayedAutoStart":       true, // Windows: after the network is up
	}
	if runtime.GOOS == "linux" {
		writable, err := serviceWritable(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfgPath, err)
		}
		unit, err := installer.RenderSystemdUnit(sc.Executable, sc.Arguments, cfg.DataDir, writable)
		if err != nil {
			return nil, err
		}
		sc.Option["SystemdScript"] = unit
	}
	return sc, nil
}

// serviceWritable lists the folders the service writes to, for the unit's
// ReadWritePaths: the data folder, each folder source with its work
// folder (one entry), done_dir, failed_dir and the log folder. A folder
// and a work folder that share no folder but the root are an error: the
// one entry holding both would be /, the whole system writable.
func serviceWritable(cfg *config.Config) ([]string, error) {
	writable := []string{cfg.DataDir}
	for i, f := range cfg.Sources.Folders {
		// Folder sources move what they take into their work folder
		// by rename, which Linux refuses between two ReadWritePaths
		// entries (each is a mount of its own): one entry holds both.
		if abs, err := filepath.Abs(f.Path); err == nil {
			if p, err := f.Config.Config.ResolvePaths(); err == nil {
				common := commonDir(abs, p.Work)
				if filepath.Dir(common) == common {
					return nil, fmt.Errorf("sources.folders[%d] (%s): the folder %s and its work_dir %s share no folder but %s, which the unit would have to make writable whole to let ferry move files from one to the other (systemd's ReadWritePaths); put work_dir beside the folder, e.g. %s",
						i, f.Name, abs, p.Work, common, filepath.Join(filepath.Dir(abs), filepath.Base(abs)+"-work"))
				}
				abs = common
			}
			writable = append(writable, abs)
		}
		if f.DoneDir != "" {
			if abs, err := filepath.Abs(f.DoneDir); err == nil {
				writable = append(writable, abs)
			}
		}
		if f.FailedDir != "" {
			if abs, err := filepath.Abs(f.FailedDir); err == nil {
				writable = append(writable, abs)
			}
		}
	}
	if dir := logDirOutside(cfg); dir != "" {
		writable = append(writable, dir)
	}
	return outermost(writable), nil
}

// packagedUnitNote tells, after `ferry install --folders-only` beside the
// .deb/.rpm, which folders the packaged unit does not let the service
// write (it has ReadWritePaths=/var/lib/ferry only, under
// ProtectSystem=strict): a log.file or a folder source elsewhere would
// fail at the next start, with nothing said until then. Empty when there
// are none.
func packagedUnitNote(cfgPath string, cfg *config.Config) string {
	if cfgPath != installer.PackageLayout().ConfigFile {
		return "" // not the configuration the packaged unit runs
	}
	var extra []string
	pkg := installer.PackageLayout().DataDir
	writable, err := serviceWritable(cfg)
	if err != nil {
		return "note: " + err.Error() + "\n"
	}
	for _, d := range writable {
		if !isWithin(pkg, d) {
			extra = append(extra, d)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	// Written as systemd reads it: a folder with a space in its name
	// quoted, else it is two folders that do not exist.
	list, err := installer.UnitPathList(extra)
	if err != nil {
		return "note: " + err.Error() + "\n"
	}
	return fmt.Sprintf("note: the packaged systemd unit lets the service write only %s; give it the rest with `sudo systemctl edit ferry`:\n  [Service]\n  ReadWritePaths=%s\nor register the service with `ferry install`, whose unit has them\n",
		pkg, list)
}

// commonDir is the deepest folder holding both a and b.
func commonDir(a, b string) string {
	d := filepath.Clean(a)
	for !isWithin(d, b) {
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	return d
}

// isWithin reports whether child is dir or lies below it.
func isWithin(dir, child string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(child))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// outermost drops the folders that lie inside another one of dirs:
// systemd would mount them again inside it, and a rename between the two
// mounts (a claim from a watched folder into a work folder beside it)
// would fail.
func outermost(dirs []string) []string {
	var out []string
	for i, d := range dirs {
		inner := false
		for j, o := range dirs {
			if i != j && isWithin(o, d) && (filepath.Clean(o) != filepath.Clean(d) || j < i) {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, d)
		}
	}
	return out
}

// serviceConfigFile resolves and validates the configuration a service
// command refers to: --config, else the package's default file.
func serviceConfigFile(path string) (string, *config.Config, error) {
	if path == "" {
		path = installer.PackageLayout().ConfigFile
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("no --config given and %s does not exist; write one with `ferry init --out FILE`", path)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, fmt.Errorf("config path: %w", err)
	}
	cfg, err := config.Load(abs)
	if err != nil {
		return "", nil, fmt.Errorf("the service would not start with this configuration (check it with `ferry config check %s`):\n%w", abs, err)
	}
	return abs, cfg, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// installedUnit is where `ferry install` writes the service's systemd
// unit (kardianos/service's place for it); the packages ship theirs as
// /lib/systemd/system/ferry.service.
const installedUnit = "/etc/systemd/system/ferry.service"

// cmdUninstall stops and unregisters the service `ferry install`
// registered; the packages' service is the package's to remove. The account, the
// configuration and the data folder stay: the queue may hold messages not
// yet delivered. It names them (uninstallKept), from --config or the
// package's configuration file, so that whoever removes them knows where
// the PHI is.
func cmdUninstall(_ context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlags("uninstall", stderr)
	cfgPath := flags.String("config", "", "the service's configuration, to name the folders it leaves (default: "+installer.PackageLayout().ConfigFile+" when it exists)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return errUsage
	}
	svc, err := installedService("uninstall")
	if err != nil {
		return err
	}
	if svc.Platform() == "linux-systemd" {
		// The package's unit (/lib/systemd/system) is the package's
		// to remove: uninstall would stop and disable it, then fail
		// on the unit file `ferry install` writes, which is not there.
		if _, err := os.Stat(installedUnit); errors.Is(err, fs.ErrNotExist) {
			return errors.New("uninstall: the ferry service is the .deb or .rpm package's (not registered by `ferry install`); remove the package to remove it (sudo apt remove ferry, or sudo dnf remove ferry), which keeps the data folder; nothing was changed")
		}
	}
	if st, err := svc.Status(); err == nil && st == service.StatusRunning {
		if err := svc.Stop(); err != nil {
			return fmt.Errorf("uninstall: stop the service: %w", err)
		}
	}
	if err := svc.Uninstall(); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	fmt.Fprint(stdout, uninstallKept(*cfgPath))
	return nil
}

// uninstallKept says what uninstall left in place and where: the
// configuration file, data_dir (the queue, dead letters, quarantine,
// outbox) and each folder source's work folder (its done/ and failed/
// archives), all of which may hold PHI and undelivered messages. Without
// a configuration to read it says so in general words.
func uninstallKept(cfgPath string) string {
	const general = "uninstalled the ferry service; its data folder and configuration were kept (they may hold undelivered messages)\n"
	if cfgPath == "" {
		cfgPath = installer.PackageLayout().ConfigFile
		if _, err := os.Stat(cfgPath); err != nil {
			return general
		}
	}
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return general
	}
	cfg, err := config.Load(abs)
	if err != nil {
		return general + fmt.Sprintf("(could not read %s to name them: %v)\n", abs, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "uninstalled the ferry service; these were kept, and may hold patient data and messages not yet delivered:\n")
	fmt.Fprintf(&b, "  configuration  %s\n", abs)
	if dd, err := filepath.Abs(cfg.DataDir); err == nil {
		fmt.Fprintf(&b, "  data folder    %s (queue, dead letters, quarantine, outbox)\n", dd)
	}
	for _, f := range cfg.Sources.Folders {
		if p, err := f.Config.Config.ResolvePaths(); err == nil {
			fmt.Fprintf(&b, "  folder %s: %s (done/ and failed/ archives)\n", f.Name, p.Work)
			if p.Done != filepath.Join(p.Work, "done") {
				fmt.Fprintf(&b, "  folder %s: %s (done archive)\n", f.Name, p.Done)
			}
			if p.Failed != filepath.Join(p.Work, "failed") {
				fmt.Fprintf(&b, "  folder %s: %s (failed archive)\n", f.Name, p.Failed)
			}
		}
	}
	fmt.Fprintf(&b, "check that nothing is waiting (ferry status --config %s) before removing them\n", abs)
	return b.String()
}

// serviceControl returns the command for start, stop and restart.
func serviceControl(action string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		// start and restart wait for the gateway of the service's
		// configuration, found as the other operator commands find it.
		cfgPath := new(string)
		if slices.ContainsFunc(args, isHelpFlag) {
			return errUsage // the usage line names --config
		}
		if action != "stop" {
			fs := newFlags(action, stderr)
			cfgPath = opsConfigFlag(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			args = fs.Args()
		}
		if len(args) > 0 {
			return errUsage
		}
		if action != "stop" {
			// The service's configuration (--config, else the
			// package's file) must load: a service started on a broken
			// one fails at once and again every few seconds, and the
			// wait for the gateway to be ready would be skipped in
			// silence. Say so before the service is touched.
			if _, _, err := opsConfig(*cfgPath); err != nil {
				return fmt.Errorf("%w; the service was left as it is", err)
			}
		}
		svc, err := installedService(action)
		if err != nil {
			return err
		}
		if err := service.Control(svc, action); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if action != "stop" {
			// The service manager has launched the process, which may
			// still be opening its queue, or fail to start and exit: wait
			// for the gateway of the installed configuration to be ready.
			if name, cfg, err := opsConfig(*cfgPath); err == nil && name != "embedded default" && cfg.Status.Listen != "" {
				stopped := func() bool {
					// systemd's "failed" is an error to kardianos/service.
					st, err := svc.Status()
					return st == service.StatusStopped || err != nil && strings.Contains(err.Error(), "failed state")
				}
				if err := waitReady(ctx, cfg, startWait, stopped); err != nil {
					return fmt.Errorf("%s: %w", action, err)
				}
				fmt.Fprintf(stdout, "ferry service: %s done (running, ready: status page http://%s/)\n", action, cfg.Status.Listen)
				return nil
			}
		}
		st, _ := svc.Status()
		fmt.Fprintf(stdout, "ferry service: %s done (%s)\n", action, statusWord(st))
		return nil
	}
}

// installedService is the ferry service of the OS service manager, for
// action; an error saying so in plain words when the manager has none.
// Asked first, since what the manager answers to a command for a service
// it does not have reaches ferry as "exit status 5" (systemctl's own
// words are not passed on by kardianos/service) or as the SCM's "does not
// exist as an installed service", never as service.ErrNotInstalled,
// which only Status returns.
func installedService(action string) (service.Service, error) {
	svc, err := service.New(&program{}, serviceConfig(""))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	if _, err := svc.Status(); errors.Is(err, service.ErrNotInstalled) && !unitLoaded(svc) {
		return nil, fmt.Errorf("%s: the ferry service is not installed (install the package, or run `ferry install --config FILE`); nothing was changed", action)
	}
	return svc, nil
}

// unitLoaded reports whether systemd knows the ferry unit, for a
// service.ErrNotInstalled of kardianos/service's Status, which it also
// says of every state it does not know (deactivating while ferry
// finishes a stop, reloading). Elsewhere that error is exact: false.
func unitLoaded(svc service.Service) bool {
	if svc.Platform() != "linux-systemd" {
		return false
	}
	out, err := exec.Command("systemctl", "show", "--property=LoadState", "--value", "ferry.service").Output()
	return err != nil || strings.TrimSpace(string(out)) != "not-found"
}

// startWait bounds how long `ferry start` waits for the gateway to be
// ready: a queue's replay after a crash takes a while.
const startWait = 60 * time.Second

// waitReady waits until the gateway of cfg, whose status page listens on
// cfg.Status.Listen, answers /readyz with 200, and returns nil; or returns
// why not: the service stopped again (stopped reports true: its start
// failed), another ferry answers there (which the service's gateway
// cannot then listen on), or it was not ready within, naming what is not
// ready.
func waitReady(ctx context.Context, cfg *config.Config, within time.Duration, stopped func() bool) error {
	addr := cfg.Status.Listen
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 3 * time.Second}
	last := "its status page at " + addr + " does not answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Ready, if it is this configuration's gateway: another
				// ferry holding the address (a `ferry run` left in a
				// terminal) answers too, while the service's cannot
				// listen there and does not start.
				if st, err := ops.FetchStatus(ctx, addr); err == nil && !ops.SameDataDir(st, cfg) {
					return fmt.Errorf("%s answers as another ferry (%s, data_dir %s), not the gateway of this configuration (data_dir %s), which cannot listen there: stop the other, or give one of them another status.listen",
						addr, st.Version, st.DataDir, cfg.DataDir)
				}
				return nil
			}
			last = strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
		} else if stopped() {
			return errors.New("the service stopped again: the gateway did not start; its log says why (journalctl -u ferry, or on Windows the Application event log and <data_dir>\\logs\\ferry.log)")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the service runs, but the gateway is not ready after %s: %s (ferry status, and the log, say more)", within, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func statusWord(s service.Status) string {
	switch s {
	case service.StatusRunning:
		return "running"
	case service.StatusStopped:
		return "stopped"
	}
	return "state unknown"
}
