package ops

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// A backup (`ferry backup FILE`) is a gzip-compressed tar of a stopped
// gateway's data folder and of its configuration file:
//
//	config/<name>          the configuration file, when one was used
//	data/...               every file and folder of data_dir
//	ferry-backup.json      the manifest: ferry's version, the time, the
//	                       paths backed up, and each file's size and SHA-256
//
// The data folder holds what a gateway needs to go on where it stopped:
// the queue (bundles not yet delivered, dead letters), held bundles and
// quarantined inputs that wait for a person, the registries of patient
// merges and replaced documents, the dedup log and the site id that
// scopes every identifier system ferry mints. Left out: the ops token (a
// new one is made at start), lock files, durable temp files (a write
// that never finished) and the logs/ folder. Keys are never in it: an encrypted data folder
// stays encrypted, and its key file (like the TLS and SMART keys the
// configuration names, left out when kept in the data folder) is backed
// up apart from it, or the backup is
// worth nothing to whoever steals it and the key alike.
//
// Restore (`ferry restore FILE`) writes into a data folder that does not
// exist or is empty: it unpacks beside it (inside it, when it exists: see
// RestoreBackup), checks every file against the manifest, fsyncs, and
// only then renames the folder (or its entries) into place, so a damaged
// or cut archive leaves nothing behind.

// BackupFormat is the manifest's format version.
const BackupFormat = 1

// BackupManifestName is the manifest's name in the archive.
const BackupManifestName = "ferry-backup.json"

// BackupManifest describes a backup.
type BackupManifest struct {
	Format  int          `json:"format"`
	Ferry   string       `json:"ferry"`
	Created time.Time    `json:"created"`
	DataDir string       `json:"data_dir"`
	Config  string       `json:"config,omitempty"` // the configuration file backed up, as it was named
	Files   []BackupFile `json:"files"`
	// Skipped names what the data folder held that is not in the archive
	// and why (a symbolic link, a socket); lock and temp files are not
	// listed.
	Skipped []string `json:"skipped,omitempty"`
}

// BackupFile is one file of the archive.
type BackupFile struct {
	Path   string `json:"path"` // in the archive: "data/queue/..." or "config/ferry.yaml"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bytes is the files' total size.
func (m *BackupManifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// BackupOptions says what WriteBackup archives.
type BackupOptions struct {
	DataDir    string
	ConfigFile string // "" when the gateway runs on the embedded default
	Version    string // ferry's, for the manifest
	// Root, when set, is read in DataDir's place: a running gateway's
	// snapshot of it (TakeSnapshot). Sizes then says how many bytes of
	// each file belong to the backup; the files it does not name are left
	// out.
	Root  string
	Sizes map[string]int64
	// Skipped is what the snapshot left out (Snapshot.Skipped), listed in
	// the manifest as a walk of the folder lists it.
	Skipped []string
	// Abort, when set, stops the backup with its error as soon as it is
	// closed: the snapshot is no longer held (SnapshotHold.Lost), or the
	// command was interrupted.
	Abort <-chan struct{}
	// Keys are the key files and other secrets the configuration names
	// (KeysApart). Keys are never in a backup: one kept in the data
	// folder is left out, and listed in the manifest as skipped.
	Keys []KeyFile
}

// RunMarker is the file a gateway with audit keeps in <data_dir>/audit
// while it runs: its process id and start time. A clean stop removes it
// once the audit sink has sent or spooled every event; found at start,
// it says the previous run ended without that. A backup leaves it out:
// restored, it would report a gap for a run that stopped elsewhere.
const RunMarker = "running"

// skipInBackup reports whether the data folder's file rel (slash
// separated) stays out of a backup: the ops token, the audit run marker,
// lock files, temp files, and the log folder a Windows service writes
// into by default (config.DefaultServiceLogFile), which is a record of
// the past, not state, and up to half a gigabyte.
func skipInBackup(rel string) bool {
	name := path.Base(rel)
	return rel == TokenFile || rel == "audit/"+RunMarker || rel == BackupRecordFile || name == "LOCK" || durable.IsTemp(name) || strings.HasPrefix(rel, "logs/") || inSnapshot(rel)
}

// WriteBackup writes the archive of o.DataDir (and o.ConfigFile) to w.
// The caller keeps the gateway out meanwhile (diskq.Hold), or gives the
// running gateway's snapshot as o.Root: the files are read as they are,
// and one that changes size while it is read (or is shorter than its
// snapshot size) fails the backup.
func WriteBackup(w io.Writer, o BackupOptions) (*BackupManifest, error) {
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	m := &BackupManifest{Format: BackupFormat, Ferry: o.Version, Created: time.Now().UTC().Truncate(time.Second), DataDir: abs}
	// A data_dir that is a symbolic link (/var/lib/ferry on another disk)
	// is walked where it points: the walk follows no link.
	if o.Root != "" {
		abs = o.Root
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	keys, err := keysInside(o.DataDir, o.Keys)
	if err != nil {
		return nil, err
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	add := func(name, file string, fi fs.FileInfo) error {
		select {
		case <-o.Abort:
			return errAborted
		default:
		}
		if backupOpenHook != nil {
			backupOpenHook(file)
		}
		f, err := openShared(file)
		if err != nil {
			return err
		}
		defer f.Close()
		size := fi.Size()
		if rel, ok := strings.CutPrefix(name, "data/"); ok && o.Sizes != nil {
			if n, ok := o.Sizes[rel]; ok {
				size = n
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: keptMode(fi, 0o600), ModTime: fi.ModTime().UTC().Truncate(time.Second)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		h := sha256.New()
		if n, err := io.CopyN(tw, io.TeeReader(abortReader{f, o.Abort}, h), size); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: shrank from %d to %d bytes while read: is a gateway or another ferry command using the data folder?", file, size, n)
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		m.Files = append(m.Files, BackupFile{Path: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	if o.ConfigFile != "" {
		fi, err := os.Stat(o.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		if m.Config, err = filepath.Abs(o.ConfigFile); err != nil {
			return nil, err
		}
		if err := add("config/"+filepath.Base(o.ConfigFile), o.ConfigFile, fi); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
	}
	// A file that another program takes away meanwhile (the outbox's
	// reader, when there is no exchange) is listed as skipped, not a
	// failed backup: it was not the gateway's to keep any more.
	gone := func(rel string) error {
		if o.Sizes != nil {
			// Nothing removes a snapshot's file but the snapshot's end.
			return fmt.Errorf("%s: gone from the snapshot while it was archived: %w", rel, errAborted)
		}
		m.Skipped = append(m.Skipped, rel+": gone while the backup ran")
		return nil
	}
	m.Skipped = append(m.Skipped, o.Skipped...)
	err = walkData(root, gone, func(p, rel string, d fs.DirEntry) error {
		switch {
		case d.IsDir():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			name := "data/"
			if rel != "." {
				name += rel + "/"
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: keptMode(fi, 0o700), ModTime: m.Created})
		case skipInBackup(rel):
			return nil
		case keys[rel] != "":
			m.Skipped = append(m.Skipped, rel+": "+keys[rel]+", a key: never in a backup, keep it apart from it")
			return nil
		case o.Sizes != nil && !snapshotted(o.Sizes, rel):
			return nil
		case !d.Type().IsRegular():
			m.Skipped = append(m.Skipped, rel+": not a regular file ("+d.Type().String()+")")
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return gone(rel)
		}
		if err != nil {
			return err
		}
		if err := add("data/"+rel, p, fi); errors.Is(err, fs.ErrNotExist) {
			return gone(rel)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", abs, err)
	}
	if o.Sizes != nil {
		archived := make(map[string]bool, len(m.Files))
		for _, f := range m.Files {
			archived[strings.TrimPrefix(f.Path, "data/")] = true
		}
		for rel := range o.Sizes {
			if !archived[rel] && keys[rel] == "" {
				return nil, fmt.Errorf("back up %s: %s: gone from the snapshot while it was archived: %w", abs, rel, errAborted)
			}
		}
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: BackupManifestName, Size: int64(len(js)), Mode: 0o600, ModTime: m.Created}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(js); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return m, zw.Close()
}

// keysInside maps each of the key files that lies in the data folder
// dataDir (either named through symbolic links) to its setting, by its
// path in the folder, slash separated.
func keysInside(dataDir string, keys []KeyFile) (map[string]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	in := map[string]string{}
	for _, k := range keys {
		p, err := filepath.Abs(k.Path)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		in[filepath.ToSlash(rel)] = k.Field
	}
	return in, nil
}

// abortReader reads r until abort is closed, then fails with errAborted:
// a large file (a spilled body, an outbox file) is stopped within one read,
// not archived whole before an interrupt is heeded.
type abortReader struct {
	r     io.Reader
	abort <-chan struct{}
}

func (a abortReader) Read(p []byte) (int, error) {
	select {
	case <-a.abort:
		return 0, errAborted
	default:
	}
	return a.r.Read(p)
}

// errAborted is why a backup of a snapshot stopped: the snapshot ended
// under it (the gateway stopped or restarted and removes it, or the
// command's hold on it broke), or the command was interrupted.
var errAborted = errors.New("the running gateway's snapshot was let go before the archive was whole (the gateway stopped or restarted, or the command was interrupted); run the backup again")

// walkData walks the data folder (or a snapshot of it) at root as
// filepath.WalkDir does, giving fn each entry's path relative to root with
// '/' separators, and leaving out live backups' snapshots and lost+found. An entry gone
// between the listing of its folder and its visit goes to gone instead.
func walkData(root string, gone func(rel string) error, fn func(p, rel string, d fs.DirEntry) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist) && rel != ".":
			return gone(rel)
		case err != nil:
			return err
		case d.IsDir() && (inSnapshot(rel) || rel == "lost+found"):
			// lost+found, at the root of a data_dir on a disk of its
			// own, is the file system's (root's alone, which the
			// gateway's account cannot read), not the gateway's data.
			return fs.SkipDir
		}
		return fn(p, rel, d)
	})
}

// snapshotted reports whether a snapshot's file rel is part of it.
func snapshotted(sizes map[string]int64, rel string) bool {
	_, ok := sizes[rel]
	return ok
}

// keptMode is the permission bits a backup keeps of fi: the owner's and
// the group's (the outbox is 0750/0640 for a group that reads it), never
// others'; def when fi gives none (Windows).
func keptMode(fi fs.FileInfo, def int64) int64 {
	if m := int64(fi.Mode().Perm() & 0o770); m&0o700 != 0 {
		return m
	}
	return def
}

// restoredMode is the mode restore gives a member: its kept bits, within
// the owner's and the group's.
func restoredMode(hdr *tar.Header, def os.FileMode) os.FileMode {
	if m := os.FileMode(hdr.Mode) & 0o770; m&0o700 != 0 {
		return m
	}
	return def
}

// backupOpenHook, when set (tests), is called with each file's path
// before WriteBackup opens it.
var backupOpenHook func(path string)

// maxManifest and maxConfig bound the two members restore reads into
// memory.
const (
	maxManifest = 64 << 20
	maxConfig   = 4 << 20
)

// ReadBackupConfig returns the configuration file in the archive r and the
// name it had; ok is false when the archive holds none.
func ReadBackupConfig(r io.Reader) (name string, data []byte, ok bool, err error) {
	err = eachMember(r, func(hdr *tar.Header, body io.Reader) error {
		if name != "" || hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(hdr.Name, "config/") {
			return nil
		}
		if hdr.Size > maxConfig {
			return fmt.Errorf("%s: %d bytes is no configuration file", hdr.Name, hdr.Size)
		}
		name = strings.TrimPrefix(hdr.Name, "config/")
		data, err = io.ReadAll(body)
		return err
	})
	return name, data, name != "", err
}

// PeekBackupConfig reads the first member of the archive r, where
// WriteBackup puts the configuration file, and returns that file's name
// ("" when the archive holds none: the gateway ran on the embedded
// default, or r is no backup, which restore then says) and a reader that
// yields r whole again.
func PeekBackupConfig(r io.Reader) (name string, whole io.Reader) {
	var seen bytes.Buffer
	if zr, err := gzip.NewReader(io.TeeReader(r, &seen)); err == nil {
		if hdr, err := tar.NewReader(zr).Next(); err == nil && hdr.Typeflag == tar.TypeReg {
			if n, ok := strings.CutPrefix(hdr.Name, "config/"); ok {
				name = n
			}
		}
	}
	return name, io.MultiReader(&seen, r)
}

// eachMember calls fn for every member of the gzip'd tar r, with names
// checked: relative, clean, under data/ or config/ or the manifest.
func eachMember(r io.Reader, fn func(*tar.Header, io.Reader) error) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a ferry backup (gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive damaged or cut short: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." ||
			strings.Contains(name, "\\") || !(name == BackupManifestName || name == "data" || strings.HasPrefix(name, "data/") || strings.HasPrefix(name, "config/")) {
			return fmt.Errorf("archive member %q: not a name a ferry backup holds", hdr.Name)
		}
		if err := fn(hdr, tr); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s: the archive is cut short: %w", hdr.Name, err)
			}
			return err
		}
	}
}

// CheckRestoreTarget refuses a data folder that restore must not write
// into: one that holds anything (but lost+found, see fsFolder).
func CheckRestoreTarget(dataDir string) error {
	ents, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	var unfinished []string
	for _, e := range ents {
		switch {
		case fsFolder(e):
		case e.IsDir() && strings.HasPrefix(e.Name(), restoreInside):
			unfinished = append(unfinished, filepath.Join(dataDir, e.Name()))
		default:
			return fmt.Errorf("data_dir %s is not empty: restore writes only into an empty or new folder (move it aside first)", dataDir)
		}
	}
	if len(unfinished) > 0 {
		return fmt.Errorf("data_dir %s holds %s, the folder a restore unpacked into that did not finish (killed, or the machine went down) or is running now: unless one is, remove it and restore again", dataDir, strings.Join(unfinished, ", "))
	}
	return nil
}

// restoreInside begins the name of the folder a restore unpacks into
// inside an existing data folder; beside a new one it is
// .<name>.restore-<random> (restoreBeside).
const restoreInside = ".ferry-restore-"

func restoreBeside(dir string) string { return "." + filepath.Base(dir) + ".restore-" }

// removeStaleRestores removes the folders beside the data folder dir
// that restores into it left when they did not finish (killed, or the
// machine went down), each a copy of the waiting patients' data: those
// more than a day old, so never one still running.
func removeStaleRestores(dir string) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), restoreBeside(dir)+"*"))
	for _, p := range old {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(p)
		}
	}
}

// fsFolder reports whether the entry e of a data folder is the file
// system's, not data: the lost+found folder at the root of an ext4 disk
// (a data_dir on a disk of its own), which fsck fills, and which restore
// leaves as it is.
func fsFolder(e fs.DirEntry) bool {
	return e.Name() == "lost+found" && e.IsDir()
}

// RestoreBackup unpacks the data folder of the archive r into dataDir,
// which must not exist or be empty. The files are checked against the
// manifest and fsynced before the folder is renamed into place (or, into
// an existing folder, its entries are).
func RestoreBackup(r io.Reader, dataDir string) (*BackupManifest, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := CheckRestoreTarget(abs); err != nil {
		return nil, err
	}
	// A data_dir that is a symbolic link to an empty folder is restored
	// into that folder, and one to a folder not made yet (the link made
	// first, to the disk the data go on) into a new folder there: the
	// link stays as the administrator made it.
	abs = linkTarget(abs)
	if err := CheckRestoreTarget(abs); err != nil {
		return nil, err
	}
	// An existing (empty) folder is kept: the one the administrator
	// made, with its owner and ACL, or the mount point of a disk of its
	// own, which cannot be removed or renamed over. The files are
	// unpacked in a folder inside it, on its disk, and moved up once
	// whole. A new folder is unpacked beside and renamed into place.
	parent := filepath.Dir(abs)
	fi, err := os.Stat(abs)
	existing := err == nil && fi.IsDir()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(parent, restoreBeside(abs)+hex.EncodeToString(rnd[:]))
	if existing {
		tmp = filepath.Join(abs, restoreInside+hex.EncodeToString(rnd[:]))
	} else if err := durable.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	removeStaleRestores(abs)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	got := map[string]BackupFile{}
	var dirs []string
	var m *BackupManifest
	err = eachMember(r, func(hdr *tar.Header, body io.Reader) error {
		name := strings.TrimSuffix(hdr.Name, "/")
		switch {
		case name == BackupManifestName:
			if hdr.Size > maxManifest {
				return fmt.Errorf("manifest of %d bytes", hdr.Size)
			}
			m = &BackupManifest{}
			return json.NewDecoder(io.LimitReader(body, maxManifest)).Decode(m)
		case strings.HasPrefix(name, "config/"):
			h := sha256.New()
			n, err := io.Copy(h, body)
			got[hdr.Name] = BackupFile{Path: hdr.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			dirs = append(dirs, dst)
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return err
			}
			return os.Chmod(dst, restoredMode(hdr, 0o700))
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(f, h), body)
			if err == nil {
				err = f.Chmod(restoredMode(hdr, 0o600))
			}
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil && !hdr.ModTime.IsZero() {
				// The file's own time: the outbox's retention counts from
				// it, and would start again at the restore. Set once the
				// file is closed (Windows may date a file at the close of
				// the handle that wrote it).
				err = os.Chtimes(dst, hdr.ModTime, hdr.ModTime)
			}
			got[hdr.Name] = BackupFile{Path: hdr.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
			return err
		}
		return fmt.Errorf("archive member %s: type %q is not in a ferry backup", hdr.Name, hdr.Typeflag)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("archive has no manifest (" + BackupManifestName + "): cut short, or not a ferry backup")
	}
	if m.Format != BackupFormat {
		return nil, fmt.Errorf("backup format %d; this ferry reads format %d", m.Format, BackupFormat)
	}
	for _, f := range m.Files {
		g, ok := got[f.Path]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: in the manifest, missing from the archive", f.Path)
		case g.Size != f.Size || g.SHA256 != f.SHA256:
			return nil, fmt.Errorf("%s: %d bytes, SHA-256 %s; the manifest says %d bytes, %s: the archive is damaged", f.Path, g.Size, g.SHA256, f.Size, f.SHA256)
		}
		delete(got, f.Path)
	}
	if len(got) > 0 {
		extra := make([]string, 0, len(got))
		for p := range got {
			extra = append(extra, p)
		}
		slices.Sort(extra)
		return nil, fmt.Errorf("archive holds files its manifest does not list: %s", strings.Join(extra, ", "))
	}
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// Deepest first, so that each folder's new entries are durable
	// before the folder's own entry in its parent is.
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range append(dirs, data) {
		if err := durable.SyncDir(d); err != nil {
			return nil, err
		}
	}
	if existing {
		if err := moveInto(data, abs, filepath.Base(tmp)); err != nil {
			return nil, err
		}
	} else {
		if err := os.Rename(data, abs); err != nil {
			return nil, err
		}
		if err := durable.SyncDir(parent); err != nil {
			return nil, err
		}
	}
	done = true
	os.RemoveAll(tmp)
	return m, nil
}

// moveInto moves the entries of the restored folder data into the
// existing data folder dir, which holds nothing but the restore's own
// folder (named tmp), gives dir data's mode, and syncs it. The entries
// are whole and synced already: only their names move, each at once.
func moveInto(data, dir, tmp string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, e := range ents {
		if fsFolder(e) {
			keep[e.Name()] = true
			continue
		}
		if e.Name() != tmp {
			return fmt.Errorf("data_dir %s: %s appeared in it during the restore (is a gateway running?); nothing restored", dir, e.Name())
		}
	}
	fi, err := os.Stat(data)
	if err != nil {
		return err
	}
	if ents, err = os.ReadDir(data); err != nil {
		return err
	}
	for _, e := range ents {
		if keep[e.Name()] {
			continue // the disk's own lost+found stays; the archive's goes with the staging folder
		}
		if err := os.Rename(filepath.Join(data, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("data_dir %s restored in part (%w): remove what it holds and restore again", dir, err)
		}
	}
	if err := os.Chmod(dir, fi.Mode().Perm()); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// linkTarget is where the path p leads: p with its symbolic links
// resolved, or, where the last of them names nothing yet, that name. A
// restore renames its folder into place there, and renamed over a link
// it would replace the link, putting the data on the disk of the link
// instead of the one it names.
func linkTarget(p string) string {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	for range 40 { // as many links as a path resolution follows
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		to, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(p), to)
		}
		p = filepath.Clean(to)
	}
	return p
}

// KeyFile is a file the configuration names at Field.
type KeyFile struct{ Field, Path string }

// KeysApart lists the key files and the other secrets cfg names
// (previous data-at-rest keys, a mailbox's password), which a backup
// leaves out and a restored gateway needs each of.
func KeysApart(cfg *config.Config) []KeyFile {
	var keys []KeyFile
	for _, f := range configuredFiles(cfg) {
		if strings.HasSuffix(f.field, "key_file") || f.ownerOnly {
			keys = append(keys, KeyFile{f.field, f.path})
		}
	}
	return keys
}

// BackupNotes says what a backup of cfg's gateway leaves out and how to
// treat it: the key files the configuration names (kept apart from the
// archive), the watched folders, and whether the archive holds PHI in
// clear. m is the backup's manifest (nil: not known), from which an
// encrypted data folder's outbox bundles, never sealed, are counted.
func BackupNotes(cfg *config.Config, m *BackupManifest) []string {
	var notes []string
	var keys []string
	for _, f := range KeysApart(cfg) {
		keys = append(keys, f.Field+" "+f.Path)
	}
	if len(keys) > 0 {
		notes = append(notes, "not in the archive, back them up apart from it: "+strings.Join(keys, "; "))
	}
	if cfg.Encryption.KeyFile == "" {
		notes = append(notes, "encryption at rest is off: the archive holds patient data in clear; keep it as you keep the clinic's records, seal the data folder, and so its backups (`ferry keygen`, encryption.key_file: README, \"Encryption at rest\"), or encrypt the archive on its way out (`ferry backup - | gpg -e -r KEY > FILE.gpg`)")
	} else if len(cfg.Encryption.PreviousKeyFiles) > 0 {
		notes = append(notes, "the data in the archive is encrypted with encryption.key_file, and what was sealed before the key's rotation with encryption.previous_key_files: without those keys a restore cannot read it")
	} else {
		notes = append(notes, "the data in the archive is encrypted with encryption.key_file: without that key a restore cannot read it")
	}
	if n := outboxFiles(m); n > 0 && cfg.Encryption.KeyFile != "" {
		// The outbox is for another program to read, so it is never
		// sealed (README, "Encryption at rest"): its bundles are in the
		// archive as they are in data_dir.
		notes = append(notes, fmt.Sprintf("except the outbox: its %d file%s (data_dir/outbox, bundles written for another program to read, which encryption at rest does not seal) %s in the archive in clear; "+
			"keep it as you keep the clinic's records, or encrypt it on its way out (`ferry backup - | gpg -e -r KEY > FILE.gpg`)", n, plural(n, "", "s"), plural(n, "is", "are")))
	}
	if clear := plainAtRest(cfg); clear != "" && cfg.Encryption.KeyFile != "" {
		// Data stored before the key was configured stays as it was
		// written (README, "Encryption at rest"), and so it is in the
		// archive.
		notes = append(notes, "except what data_dir kept from before encryption at rest was turned on, which stays as it was written: "+clear+" in the archive in clear, until they are delivered, retried, replayed or purged (a queue record, until every item of its segment is); "+
			"keep it as you keep the clinic's records, or encrypt it on its way out (`ferry backup - | gpg -e -r KEY > FILE.gpg`)")
	}
	if len(cfg.Sources.Folders) > 0 {
		notes = append(notes, "watched folders are not in the archive: files waiting in them stay there, and the gateway takes them up when it runs again")
	}
	return notes
}

// plainAtRest says what of cfg's data folder that encryption at rest
// seals is in clear ("2 queue records, 1 quarantine entry are"), written
// before encryption.key_file was set: "" when nothing is (or it cannot
// be read, which the backup itself reports).
func plainAtRest(cfg *config.Config) string {
	var qu diskq.PlainUse
	if _, err := os.Stat(QueueDir(cfg)); err == nil {
		qu, _ = diskq.InspectPlaintext(QueueDir(cfg), DeadLetterDir(cfg))
	}
	// A quarantine or held entry, and a held entry's bundle file, is a
	// <name>.json file (a held bundle's <id>.bundle.json).
	entries := func(dir string) int {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return 0
		}
		clear := map[string]bool{}
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || !strings.HasSuffix(n, ".json") || durable.IsTemp(n) {
				continue
			}
			f, err := os.Open(filepath.Join(dir, n))
			if err != nil {
				continue
			}
			h := make([]byte, seal.StreamHeaderLen)
			k, _ := io.ReadFull(f, h)
			f.Close()
			if k > 0 && !seal.IsStream(h[:k]) {
				clear[strings.TrimSuffix(strings.TrimSuffix(n, ".json"), ".bundle")] = true
			}
		}
		return len(clear)
	}
	var parts []string
	n := 0
	add := func(k int, one, many string) {
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, plural(k, one, many)))
			n += k
		}
	}
	add(qu.Records, "queue record", "queue records")
	add(qu.Bodies, "spilled queue body", "spilled queue bodies")
	add(qu.DeadLetters, "dead letter", "dead letters")
	add(entries(cfg.Path("quarantine")), "quarantine entry", "quarantine entries")
	add(entries(cfg.Path("held")), "held entry", "held entries")
	if n == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " " + plural(n, "is", "are")
}

// outboxFiles counts the files of data_dir/outbox in the backup of m.
func outboxFiles(m *BackupManifest) int {
	if m == nil {
		return 0
	}
	n := 0
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "data/outbox/") {
			n++
		}
	}
	return n
}

// BackupRecordFile, in data_dir, says when `ferry backup` last archived
// it, for `ferry status` and `ferry doctor`. It is not in the archive:
// restored, it would date a backup older than the one restored.
const BackupRecordFile = "backup.last"

// BackupRecord is what BackupRecordFile holds: no PHI.
type BackupRecord struct {
	Time  time.Time `json:"time"`
	File  string    `json:"file"`
	Files int       `json:"files"`
	Bytes int64     `json:"bytes"`
}

// RecordBackup writes r as data_dir's BackupRecordFile.
func RecordBackup(dataDir string, r BackupRecord) error {
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dataDir, BackupRecordFile), append(js, '\n'), 0o600)
}

// LastBackup reads data_dir's BackupRecordFile; nil when no backup was
// recorded.
func LastBackup(dataDir string) (*BackupRecord, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, BackupRecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r BackupRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", BackupRecordFile, err)
	}
	return &r, nil
}

// BackupStale is the age at which `ferry doctor` warns about the last
// backup: a nightly or weekly job that stopped running.
const BackupStale = 8 * 24 * time.Hour

// CheckBackup reports the last backup `ferry backup` recorded: a warning
// when it is older than BackupStale, nothing to fix when none was ever
// made (a site may back up the machine by other means).
func CheckBackup(cfg *config.Config, now time.Time) []Check {
	c := Check{Area: "backup", Name: "data_dir " + cfg.DataDir, Level: OK}
	r, err := LastBackup(cfg.DataDir)
	switch {
	case err != nil:
		c.Level, c.Detail = Warn, "cannot read the backup record: "+err.Error()
	case r == nil:
		c.Detail = "no backup made with `ferry backup` (README, \"Backups\"); none needed if the machine is backed up whole with the service stopped"
	case now.Sub(r.Time) > BackupStale:
		c.Level = Warn
		c.Detail = fmt.Sprintf("last `ferry backup` %s ago (%s, to %s): has the backup job stopped?", ago(r.Time, now), r.Time.Local().Format("2006-01-02 15:04"), r.File)
	default:
		c.Detail = fmt.Sprintf("last `ferry backup` %s ago (%s, to %s)", ago(r.Time, now), r.Time.Local().Format("2006-01-02 15:04"), r.File)
	}
	return []Check{c}
}
