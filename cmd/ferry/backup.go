package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/transport/audit"
	"golang.org/x/term"
)

// cmdBackup writes a backup of the gateway's data folder and its
// configuration file, in one archive (ops.WriteBackup). Of a stopped
// gateway, the queue's lock is held throughout, so a gateway that starts
// meanwhile is refused rather than changing files under the copy. Of a
// running one, the archive is made from the snapshot the gateway links
// for it over the ops API (ops.TakeSnapshot). The archive is written
// under a temporary name, fsynced and renamed, so FILE is either a whole
// backup or absent.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	ctx, stopHup := onHangup(ctx)
	defer stopHup()
	fs := newFlags("backup", stderr)
	cfgPath := opsConfigFlag(fs)
	force := fs.Bool("force", false, "replace FILE when it exists")
	pos, err := splitArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage
	}
	name, cfg, err := opsConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := opsDataDir(name, cfg); err != nil {
		return err
	}
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	// "-" writes the archive to standard output, for a pipe: through
	// gpg or age to encrypt it, over ssh to another machine. What the
	// command says goes to standard error then.
	toStdout := pos[0] == "-"
	out := "-"
	if toStdout {
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return errors.New("backup: - writes the archive to standard output, which is a terminal here; pipe it into a program or a file (ferry backup - | gpg -e -r KEY > ferry.tar.gz.gpg)")
		}
	} else {
		if out, err = filepath.Abs(pos[0]); err != nil {
			return err
		}
		if inside(data, out) {
			return fmt.Errorf("backup: %s is inside data_dir %s; write the archive elsewhere (another disk, a share)", out, data)
		}
		if _, err := os.Stat(out); err == nil && !*force {
			return fmt.Errorf("backup: %s exists; add --force to replace it", out)
		}
	}
	// A backup copies every patient's data out of the gateway: recorded
	// in the audit trail, and refused when the trail cannot be written.
	aud, err := newOpsAudit(cfg, "ferry backup")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() { err = errors.Join(err, aud.Close(ctx, stderr)) }()
	configFile := ""
	if name != "embedded default" {
		configFile = name
	}
	o := ops.BackupOptions{DataDir: cfg.DataDir, ConfigFile: configFile, Version: versionString(), Keys: ops.KeysApart(cfg)}
	live := ""
	release, err := diskq.Hold(ops.QueueDir(cfg))
	switch {
	case errors.Is(err, diskq.ErrLocked):
		// The gateway runs: it holds its queue still for a moment and
		// links its files into a snapshot, which this command archives.
		snap, hold, err := liveSnapshot(ctx, cfg, pos[0])
		if err != nil {
			return err
		}
		defer func() {
			if err := hold.Release(); err != nil {
				fmt.Fprintf(stderr, "note: %v\n", err)
			}
		}()
		o.Root, o.Sizes, o.Skipped = snap.Dir, snap.Sizes(), snap.Skipped
		// The archive stops when the gateway lets the snapshot go (it
		// stopped or restarted) or the command is interrupted: a file
		// read after that may be gone, or another snapshot's.
		abort := make(chan struct{})
		stopWatch := make(chan struct{})
		defer close(stopWatch)
		go func() {
			select {
			case <-hold.Lost():
			case <-ctx.Done():
			case <-stopWatch:
				return
			}
			close(abort)
		}()
		o.Abort = abort
		live = fmt.Sprintf("  taken from the running gateway, which held its queue still for %s\n", frozenFor(snap.Frozen))
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	default:
		defer release()
		// Ctrl-C stops it, as it stops the archive of a snapshot: the
		// temporary file goes, rather than the interrupt going unheeded
		// until a second one kills the process and leaves it behind.
		o.Abort = ctx.Done()
	}
	// Recorded before the first byte is written: what goes into a pipe
	// has left as it is written, and a file is whole once renamed, which
	// a crash could follow before a later record. A backup that fails is
	// recorded again, failed.
	x := audit.OperatorAction{Kind: audit.OpBackup, Object: data, ObjectType: audit.IDDataFolder, ExchangeURL: "file:" + filepath.ToSlash(out)}
	if toStdout {
		x.ExchangeURL = "stdout:"
	}
	if err := aud.action(ctx, x); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var m *ops.BackupManifest
	if toStdout {
		// A reader that goes away (gpg failed, ssh dropped) must fail the
		// write with EPIPE, not kill the process unrecorded.
		ignorePipe()
		if m, err = ops.WriteBackup(stdout, o); err != nil {
			err = fmt.Errorf("%w (the archive on standard output is cut short)", interrupted(ctx, err))
		}
		stdout, out = stderr, "standard output"
	} else {
		p, perr := durable.Create(out, 0o600)
		if perr != nil {
			err = perr
		} else if m, err = ops.WriteBackup(p, o); err == nil {
			err = p.Commit()
		} else {
			p.Abort()
			if err = interrupted(ctx, err); ctx.Err() != nil {
				err = fmt.Errorf("%w; nothing of it is kept", err)
			}
		}
	}
	if err != nil {
		x.Outcome, x.OutcomeDesc = audit.OutcomeMinorFailure, err.Error()
		if aerr := aud.action(ctx, x); aerr != nil {
			return fmt.Errorf("backup: %w (and its failure not recorded in the audit trail: %v)", err, aerr)
		}
		return fmt.Errorf("backup: %w", err)
	}
	// For `ferry status` and `ferry doctor`, which warn when the backups
	// stop; the archive stands whether or not this is written.
	rec := ops.BackupRecord{Time: m.Created, File: out, Files: len(m.Files), Bytes: m.Bytes()}
	if err := ops.RecordBackup(cfg.DataDir, rec); err != nil {
		fmt.Fprintf(stderr, "note: the backup is written, but not recorded in data_dir: %v\n", err)
	} else if err := installer.FixOwnership(cfg.DataDir); err != nil {
		fmt.Fprintf(stderr, "note: %v\n", err)
	}
	what := "data_dir " + m.DataDir
	if m.Config != "" {
		what += " and " + m.Config
	}
	fmt.Fprintf(stdout, "backed up %s: %d files, %s, to %s\n", what, len(m.Files), ops.HumanBytes(m.Bytes()), out)
	fmt.Fprint(stdout, live)
	for _, s := range m.Skipped {
		fmt.Fprintf(stdout, "  not backed up: %s\n", s)
	}
	for _, n := range ops.BackupNotes(cfg, m) {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	return nil
}

// onHangup is ctx, ended by a SIGHUP too: a backup or restore whose
// terminal goes away (an ssh session dropped) stops as for Ctrl-C and
// removes what it wrote (the temporary archive, the folder it unpacked
// into), where Go's default ended the process where it stood and left
// that, patient data, behind. A second SIGHUP ends it at once, as a
// second Ctrl-C does; started with SIGHUP ignored (nohup), and on
// Windows, nothing changes.
func onHangup(ctx context.Context) (context.Context, func()) {
	hup, stopHup := hangups()
	if hup == nil {
		return ctx, stopHup
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-hup:
			stopHup()
			cancel()
		case <-done:
		}
	}()
	return ctx, func() { close(done); stopHup(); cancel() }
}

// inside reports whether file lies in the folder dir, either named
// through symbolic links: a data_dir that is a link (/var/lib/ferry to
// /mnt/data/ferry) holds what is written under the path it points to.
func inside(dir, file string) bool {
	in := func(d, f string) bool {
		rel, err := filepath.Rel(d, f)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if in(dir, file) {
		return true
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	// The file is not there yet: the nearest folder above it that is.
	f, rest := file, ""
	for {
		if real, err := filepath.EvalSymlinks(f); err == nil {
			return in(d, filepath.Join(real, rest))
		}
		parent := filepath.Dir(f)
		if parent == f {
			return false
		}
		rest = filepath.Join(filepath.Base(f), rest)
		f = parent
	}
}

// interrupted is err, or, when the command was interrupted (Ctrl-C),
// that: the archive stopped for it.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("interrupted before the archive was whole")
	}
	return err
}

// frozenFor says how long a live backup held the queue still, to a tenth
// of a millisecond.
func frozenFor(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Round(100*time.Microsecond))/float64(time.Millisecond))
}

// liveSnapshot asks the running gateway for a snapshot of its data folder
// (over its status listener, with the ops token), held until Release.
func liveSnapshot(ctx context.Context, cfg *config.Config, file string) (*ops.Snapshot, *ops.SnapshotHold, error) {
	stop := fmt.Sprintf("or stop the gateway first: `ferry stop && ferry backup %s; ferry start` (MLLP senders resend and watched folders wait meanwhile)", file)
	if cfg.Status.Listen == "" {
		return nil, nil, fmt.Errorf("backup: the queue is in use, and a running gateway is backed up over its status listener, which this configuration turns off (status.listen): set it, %s", stop)
	}
	tok, err := ops.ReadToken(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: the queue is in use, and this account cannot read the running gateway's ops token (run as root or the ferry account), %s: %w", stop, err)
	}
	snap, hold, err := ops.RemoteSnapshot(ctx, cfg.Status.Listen, tok)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: the queue is in use (by a gateway, or another ferry command), and %w; %s", err, stop)
	}
	return snap, hold, nil
}

// cmdRestore unpacks a backup into the data folder of the configuration
// (--config, the installed one, or with --write-config the one in the
// archive, written to that path first). The data folder must not exist
// or be empty, and no gateway may hold it.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stopHup := onHangup(ctx)
	defer stopHup()
	fs := newFlags("restore", stderr)
	cfgPath := opsConfigFlag(fs)
	writeConfig := fs.String("write-config", "", "write the archive's configuration file to PATH (never over an existing file) and restore into its data_dir")
	check := fs.Bool("check", false, "only check FILE: restore it into a temporary folder beside data_dir, say what it holds and whether the configured key opens it, and remove the folder; nothing else is written")
	pos, err := splitArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage
	}
	if *writeConfig != "" && *cfgPath != "" {
		return errors.New("restore: --config and --write-config name the configuration each; give one")
	}
	archive := pos[0]
	if *check {
		if *writeConfig != "" {
			return errors.New("restore: --check writes nothing, --write-config a configuration; give one")
		}
		return restoreCheck(ctx, archive, *cfgPath, stdout)
	}
	if archive == "-" && *writeConfig != "" {
		return errors.New("restore: --write-config reads the archive twice (its configuration first); give the archive as a file, not -")
	}
	// With --write-config, the archive's configuration says where the
	// data goes; it is written after the data are restored.
	var name string
	var cfg *config.Config
	var cfgBody []byte
	if *writeConfig != "" {
		f, err := os.Open(archive)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		orig, body, ok, err := ops.ReadBackupConfig(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("restore %s: %w", archive, err)
		}
		if !ok {
			return fmt.Errorf("restore: %s holds no configuration file (the gateway ran on the embedded default)", archive)
		}
		if cfg, err = config.Parse(orig, body); err != nil {
			return fmt.Errorf("restore: the archive's configuration %s: %w", orig, err)
		}
		if _, err := os.Stat(*writeConfig); err == nil {
			return fmt.Errorf("restore: %s exists; --write-config never replaces a file", *writeConfig)
		} else if !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
		name, cfgBody = *writeConfig, body
	} else if name, cfg, err = opsConfig(*cfgPath); err != nil {
		return err
	}
	f, err := openArchive(ctx, archive)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if name == "embedded default" {
		// No configuration here: the embedded default's data_dir is
		// ./ferry-data under the folder the shell is in, where no
		// gateway that ran with a configuration file looks.
		var held string
		if held, r = ops.PeekBackupConfig(f); held != "" {
			pkg := installer.PackageLayout().ConfigFile
			how := fmt.Sprintf("restore with --write-config PATH (%s on this machine) to put it there and restore into its data_dir, or with --config FILE", pkg)
			if archive == "-" {
				how = fmt.Sprintf("restore with --config FILE, or save the archive to a file and restore that with --write-config PATH (%s on this machine)", pkg)
			}
			return fmt.Errorf("restore: no configuration says where the data go (none installed at %s, no --config), and the backed-up gateway ran with its own, %s, which the archive holds: %s", pkg, held, how)
		}
	}
	if running, err := diskq.InUse(ops.QueueDir(cfg)); err == nil && running {
		return fmt.Errorf("restore: a gateway is running on data_dir %s; stop it first", cfg.DataDir)
	}
	if err := ops.CheckRestoreTarget(cfg.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	m, err := ops.RestoreBackup(r, cfg.DataDir)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("restore %s: interrupted; nothing restored", archive)
		}
		return fmt.Errorf("restore %s: %w", archive, err)
	}
	if cfgBody != nil {
		// After the data, so that a damaged archive leaves no
		// configuration pointing at a folder it did not fill.
		err := durable.MkdirAll(filepath.Dir(name), 0o755)
		if err == nil {
			err = durable.WriteFile(name, cfgBody, 0o640)
		}
		if err != nil {
			return fmt.Errorf("restore: data_dir %s restored, but the configuration not written: %w", cfg.DataDir, err)
		}
		fmt.Fprintf(stdout, "wrote the archive's configuration to %s\n", name)
		// Written as root, it is root's alone: the service, which runs
		// as ferry, could not read it and would not start.
		if gave, err := installer.GiveConfigToService(name); err != nil {
			return fmt.Errorf("restore: data_dir %s restored and the configuration written, but: %w", cfg.DataDir, err)
		} else if gave {
			fmt.Fprintf(stdout, "  gave %s to the %s group (0640): the service reads it, only root changes it\n", name, installer.Account)
		}
	}
	fmt.Fprintf(stdout, "restored %d files (%s) of the backup made %s by ferry %s into data_dir %s (configuration: %s)\n",
		len(m.Files), ops.HumanBytes(m.Bytes()), m.Created.Format("2006-01-02 15:04 MST"), m.Ferry, cfg.DataDir, name)
	if m.DataDir != "" && !sameDir(m.DataDir, cfg.DataDir) {
		fmt.Fprintf(stdout, "  note: it was backed up from %s\n", m.DataDir)
	}
	if gave, err := installer.GiveTreeToService(cfg.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	} else if gave {
		fmt.Fprintf(stdout, "  gave %s to the %s account\n", cfg.DataDir, installer.Account)
	}
	restoredKeys(cfg, stdout)
	// The keys are not in the archive: those missing here must be put
	// back; a restore on the machine the backup came from has them.
	var missing, inPlace []string
	for _, f := range ops.KeysApart(cfg) {
		if _, err := os.Stat(f.Path); err != nil {
			missing = append(missing, f.Field+" "+f.Path)
		} else {
			inPlace = append(inPlace, f.Field+" "+f.Path)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "  note: not in the archive, put these back from where you keep them: %s\n", strings.Join(missing, "; "))
	}
	if len(inPlace) > 0 {
		fmt.Fprintf(stdout, "  note: not in the archive, and in place already: %s\n", strings.Join(inPlace, "; "))
	}
	doctor := "ferry doctor"
	if name != "embedded default" {
		doctor += " --config " + name
	}
	fmt.Fprintf(stdout, "next: `%s` checks the files and folders the service needs; then start it\n", doctor)
	return nil
}

// restoredKeys says which keys the data restored into cfg's data_dir is
// sealed with (ids only), and whether cfg's key opens it: a gateway does
// not start on data sealed with a key it is not given (ops.CheckSealedKeys),
// and the restore is where the key of a backup is missed first.
func restoredKeys(cfg *config.Config, stdout io.Writer) {
	qu, err := diskq.InspectSealedKeys(cfg.Path("queue"), "")
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintf(stdout, "  note: which keys its queue is sealed with is not known: %v\n", err)
		return
	}
	use := ops.SealedKeys(cfg, qu)
	if len(use) == 0 {
		return
	}
	ids := make([]string, 0, len(use))
	for id := range use {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var held []string
	for _, id := range ids {
		held = append(held, fmt.Sprintf("key %s (%s)", id, use[id]))
	}
	sealed := "its data is sealed with " + strings.Join(held, "; ")
	key, kerr := cfg.LoadKey()
	switch {
	case !cfg.Encryption.Enabled():
		fmt.Fprintf(stdout, "  warning: %s, and encryption is off in this configuration: the gateway does not start on it until encryption.key_file names the key file with that id\n", sealed)
	case errors.Is(kerr, iofs.ErrNotExist):
		// Not "make one with ferry keygen", as the configuration's
		// error says: a new key opens none of it.
		fmt.Fprintf(stdout, "  note: %s, and a key file the configuration names is not back yet: put back the key file with that id before starting the gateway, which does not start without it (a new key cannot open it)\n", sealed)
	case kerr != nil:
		fmt.Fprintf(stdout, "  note: %s, and the configured key does not load (%v): put back the key file with that id before starting the gateway, which does not start without it (a new key cannot open it)\n", sealed, kerr)
	case ops.CheckSealedKeys(key, use) != nil:
		fmt.Fprintf(stdout, "  warning: %s; encryption.key_file %s is key %s: the gateway does not start on it until the key file with that id is encryption.key_file (or, after a key rotation, in encryption.previous_key_files)\n", sealed, cfg.Encryption.KeyFile, key.ID())
	case len(ids) == 1 && ids[0] == key.ID():
		fmt.Fprintf(stdout, "  %s, which encryption.key_file %s is\n", sealed, cfg.Encryption.KeyFile)
	default:
		fmt.Fprintf(stdout, "  %s, which encryption.key_file and encryption.previous_key_files name\n", sealed)
	}
}

// restoreCheck restores the archive into a temporary folder beside the
// configuration's data_dir (the disk that holds the data has room for
// it), checking every file against the manifest as a restore does, then
// reads what the restored folder holds and whether a gateway with this
// configuration would start on it (the key ids of its sealed data), and
// removes the folder. A backup nobody has restored is not known to be
// one; this is the restore test a backup job can run after each backup.
func restoreCheck(ctx context.Context, archive, cfgPath string, stdout io.Writer) error {
	name, cfg, err := opsConfig(cfgPath)
	if err != nil {
		return err
	}
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	f, err := openArchive(ctx, archive)
	if err != nil {
		return fmt.Errorf("restore --check: %w", err)
	}
	defer f.Close()
	// Beside data_dir (its disk has room for the data), else in the
	// system's temporary folder; never where the restored data would
	// leave less than 1 GiB free, since beside a running gateway that is
	// the disk its queue needs. Archives compress about tenfold.
	var need uint64 = 1 << 30
	if fi, err := os.Stat(archive); err == nil && archive != "-" {
		need += 10 * uint64(fi.Size())
	}
	var tmp string
	for _, parent := range []string{filepath.Dir(data), os.TempDir()} {
		removeStaleChecks(parent)
		if free, _, err := ops.DiskFree(parent); err == nil && free < need {
			continue
		}
		if tmp, err = os.MkdirTemp(parent, ".ferry-restore-check-"); err == nil {
			break
		}
	}
	if tmp == "" {
		return fmt.Errorf("restore --check: no room to restore %s for the check (about %s, with 1 GiB left free) beside %s or in %s; free some space or check it on another machine", archive, ops.HumanBytes(int64(need)), data, os.TempDir())
	}
	removed := false
	defer func() {
		if !removed {
			os.RemoveAll(tmp)
		}
	}()
	c := *cfg
	c.DataDir = filepath.Join(tmp, "data")
	m, err := ops.RestoreBackup(f, c.DataDir)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("restore --check %s: interrupted", archive)
		}
		return fmt.Errorf("restore --check %s: it does not restore: %w", archive, err)
	}
	fmt.Fprintf(stdout, "%s: the backup made %s by ferry %s of %s; %d files, %s, each as its manifest lists it\n",
		archive, m.Created.Format("2006-01-02 15:04 MST"), m.Ferry, m.DataDir, len(m.Files), ops.HumanBytes(m.Bytes()))
	st, err := ops.OfflineStatus(&c)
	if err != nil {
		return fmt.Errorf("restore --check %s: its queue does not open: %w", archive, err)
	}
	held, herr := countEntries(c.Path("held"), func(dir string) ([]string, error) {
		h, err := pipeline.OpenHeld(dir)
		if err != nil {
			return nil, err
		}
		return h.List()
	})
	quar, qerr := countEntries(c.Path("quarantine"), func(dir string) ([]string, error) {
		q, err := pipeline.OpenQuarantine(dir)
		if err != nil {
			return nil, err
		}
		return q.List()
	})
	if err := errors.Join(herr, qerr); err != nil {
		return fmt.Errorf("restore --check %s: %w", archive, err)
	}
	oldest := ""
	if !st.Queue.Oldest.IsZero() {
		oldest = " (the oldest queued " + st.Queue.Oldest.Local().Format("2006-01-02 15:04") + ")"
	}
	dead := "dead letters"
	if st.Queue.DeadLetters == 1 {
		dead = "dead letter"
	}
	fmt.Fprintf(stdout, "  it holds %d bundles waiting for delivery%s, %d %s, %d held, %d quarantined inputs\n",
		st.Queue.Depth, oldest, st.Queue.DeadLetters, dead, held, quar)
	if st.Queue.Corrupt > 0 {
		return fmt.Errorf("restore --check %s: %d damaged records in its queue", archive, st.Queue.Corrupt)
	}
	qu, err := diskq.InspectSealedKeys(c.Path("queue"), "")
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("restore --check %s: %w", archive, err)
	}
	use := ops.SealedKeys(&c, qu)
	key, kerr := cfg.LoadKey()
	switch {
	case len(use) == 0:
		fmt.Fprintln(stdout, "  nothing in it is sealed (encryption at rest was off when it was written)")
	case kerr != nil:
		return fmt.Errorf("restore --check %s: it holds sealed data, and the configuration's key does not load (%v): a restore could not be delivered", archive, kerr)
	default:
		if err := ops.CheckSealedKeys(key, use); err != nil {
			return fmt.Errorf("restore --check %s: a gateway with %s would not start on it: %w", archive, name, err)
		}
		ids := make([]string, 0, len(use))
		for id := range use {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		fmt.Fprintf(stdout, "  sealed with key %s, which %s names\n", strings.Join(ids, ", "), name)
	}
	// The restored copy holds every patient's data: it goes now, and a
	// copy that cannot go is an error, not a note.
	removed = true
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("restore --check %s: it restores, but the copy restored for the check could not be removed: %w; remove %s", archive, err, tmp)
	}
	// The command to follow names the configuration checked against:
	// without it, restore reads the installed one or the embedded
	// default, whose data_dir is another folder.
	restore := "ferry restore " + archive
	if cfgPath != "" {
		restore += " --config " + cfgPath
	}
	if name == "embedded default" && m.Config != "" {
		// Restore refuses it so: its configuration goes with it.
		file := archive
		if file == "-" {
			file = "FILE"
		}
		pkg := installer.PackageLayout().ConfigFile
		fmt.Fprintf(stdout, "ok: it restores (checked in a temporary folder, now removed); no configuration is installed here: `ferry restore %s --write-config %s` puts it in place with the configuration it holds\n", file, pkg)
		return nil
	}
	fmt.Fprintf(stdout, "ok: it restores (checked in a temporary folder, now removed); `%s` puts it in place (into data_dir %s, once it is empty or gone)\n", restore, data)
	return nil
}

// removeStaleChecks removes the folders of restore checks in dir that a
// check stopped half-way left (killed, or its machine off): older than a
// day, so never one still running.
func removeStaleChecks(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, ".ferry-restore-check-*"))
	for _, p := range old {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(p)
		}
	}
}

// openArchive opens a backup to read: the file, or standard input for
// "-" (gpg -d ferry.tar.gz.gpg | ferry restore -). Reading it fails once
// ctx ends (Ctrl-C), so that a restore stops and removes what it
// unpacked, rather than go on until a second Ctrl-C kills it and leaves
// the half-unpacked folder, patient data, beside data_dir.
func openArchive(ctx context.Context, name string) (io.ReadCloser, error) {
	if name == "-" {
		return interruptible{ctx, io.NopCloser(os.Stdin)}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return interruptible{ctx, f}, nil
}

// interruptible is a reader that fails once its context has ended.
type interruptible struct {
	ctx context.Context
	io.ReadCloser
}

func (r interruptible) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}

// countEntries counts a held or quarantine store's entries; a store the
// backup does not hold has none.
func countEntries(dir string, list func(string) ([]string, error)) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, iofs.ErrNotExist) {
		return 0, nil
	}
	ids, err := list(dir)
	return len(ids), err
}

func sameDir(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
