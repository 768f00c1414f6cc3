package folder

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// DefaultIgnore lists the name patterns that writers use for files still in
// flight (browser downloads, rsync and WinSCP partials, Office lock files,
// GetTempFileName's <prefix><hex>.TMP), hidden files, ferry's own .ferry
// work folder among them, and the files Windows Explorer writes into a
// folder it shows (Thumbs.db, desktop.ini). Patterns are matched in any
// case (IgnoreMatch).
var DefaultIgnore = []string{"*.tmp", "*.temp", "*.part", "*.partial", "*.filepart", "*.crdownload", "*.swp", "~*", ".*", "thumbs.db", "desktop.ini"}

// IgnoreMatch reports whether the ignore pattern matches name, in any
// case: Windows programs name the same kind of file in capitals or not
// (GetTempFileName's X1A2.TMP, Thumbs.db or THUMBS.DB), and Windows and
// SMB shares treat names so.
func IgnoreMatch(pattern, name string) bool {
	ok, _ := filepath.Match(strings.ToLower(pattern), strings.ToLower(name))
	return ok
}

// Config is one watched folder. Its yaml names follow the sources.folders
// entries of the ferry config file; the fields after Ignore are optional
// refinements with defaults that suit an EHR export drop.
type Config struct {
	// Name names the source instance ("ehr"); it appears in Raw.Meta.
	Name string `yaml:"name"`
	// Kind tells the gateway which source reads the folder: ehr, fax or hylafax.
	Kind string `yaml:"kind"`
	// Path is the watched folder. Claimed files move to the work folder's
	// processing/ (WorkDir, by default Path/.ferry), which is on the same
	// volume so that the claim is one atomic rename.
	Path string `yaml:"path"`
	// WorkDir is where the work folder lives: processing/, done/, failed/,
	// seen.sha256 and last.sha256. Empty means Path/.ferry, except for kind hylafax,
	// where it is ferry/ beside the recvq (DefaultWorkDir): HylaFAX's
	// faxcron deletes every file under recvq, folders included, 7 days
	// after it was written, and a rename keeps that time. It must be on the
	// same volume as Path, and outside it.
	WorkDir string `yaml:"work_dir"`
	// Settle is how long a file's size and mtime must stay unchanged before it
	// is claimed (zero: 2s). Writers that rename finished files in can use a
	// short one.
	Settle time.Duration `yaml:"settle"`
	// Rescan is the period of the full directory scan (zero: 30s). SMB and NFS
	// shares send no change events, so the rescan is what finds their files.
	Rescan time.Duration `yaml:"rescan"`
	// After is what happens to a consumed file: "move" (to DoneDir/YYYY-MM-DD,
	// the default) or "delete".
	After string `yaml:"after"`
	// Ignore lists name globs (path.Match syntax, matched on the base name
	// in any case) that are never claimed. Nil means DefaultIgnore; an explicit list
	// replaces it.
	Ignore []string `yaml:"ignore"`
	// Include, when set, lists the name globs of the input files; others are
	// left alone (a HylaFAX recvq holds seqf beside fax*.tif).
	Include []string `yaml:"include"`
	// MarkerSuffix, when set, makes a file ready only when a marker exists:
	// x.xml waits for x.xml<suffix> or x<suffix> (".done" → x.xml.done or
	// x.done). The marker is removed once the file is claimed; x.done,
	// which stands for every input of stem x, once the last is.
	MarkerSuffix string `yaml:"marker_suffix"`
	// Sidecars lists extensions of companion files claimed together with the
	// input of the same stem (".json" claims x.json with x.pdf). A file with a
	// sidecar extension is never an input by itself.
	Sidecars []string `yaml:"sidecars"`
	// SidecarRequired makes an input wait until one of its sidecars exists.
	SidecarRequired bool `yaml:"sidecar_required"`
	// DoneDir overrides <work folder>/done. On another volume, files are copied
	// and fsynced before the original is removed.
	DoneDir string `yaml:"done_dir"`
	// FailedDir overrides <work folder>/failed, where inputs that can never be
	// converted are kept beside a <name>.error.txt.
	FailedDir string `yaml:"failed_dir"`
	// Poll disables change events; the folder is only rescanned. Use it where
	// events are known to be missing or wrong.
	Poll bool `yaml:"poll"`
	// MaxBodyBytes is the largest file handed over in Raw.Body (zero: 16 MiB).
	// Larger files come with Body nil; the consumer streams them with Raw.Open.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RetryInitial and RetryMax bound the backoff after a transient Consume
	// error (zero: 1s and 5m). The file waits in processing meanwhile.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
}

// DefaultConfig returns the defaults for an EHR export drop.
func DefaultConfig() Config {
	return Config{
		Kind:         "ehr",
		Settle:       2 * time.Second,
		Rescan:       30 * time.Second,
		After:        AfterMove,
		MaxBodyBytes: 16 << 20,
		RetryInitial: time.Second,
		RetryMax:     5 * time.Minute,
	}
}

// After values.
const (
	AfterMove   = "move"
	AfterDelete = "delete"
)

// DefaultWorkDir returns the work folder used when WorkDir is empty:
// Path/.ferry, or for kind hylafax <parent of Path>/ferry, outside the
// recvq that faxcron purges (/var/spool/hylafax/recvq →
// /var/spool/hylafax/ferry). The service account must be able to create
// it there, or an administrator creates it for it.
func DefaultWorkDir(kind, path string) string {
	if kind == "hylafax" {
		return filepath.Join(filepath.Dir(filepath.Clean(path)), "ferry")
	}
	return filepath.Join(path, ".ferry")
}

// ResolvePaths returns the absolute work, processing, done and failed
// folders this configuration uses, defaults applied. It does not touch
// the disk.
func (c Config) ResolvePaths() (Paths, error) {
	path, err := filepath.Abs(c.Path)
	if err != nil {
		return Paths{}, fmt.Errorf("path: %w", err)
	}
	var p Paths
	if c.WorkDir != "" {
		if p.Work, err = filepath.Abs(c.WorkDir); err != nil {
			return Paths{}, fmt.Errorf("work_dir: %w", err)
		}
	} else {
		p.Work = DefaultWorkDir(c.Kind, path)
	}
	p.Processing = filepath.Join(p.Work, "processing")
	p.Done = filepath.Join(p.Work, "done")
	p.Failed = filepath.Join(p.Work, "failed")
	if c.DoneDir != "" {
		if p.Done, err = filepath.Abs(c.DoneDir); err != nil {
			return Paths{}, fmt.Errorf("done_dir: %w", err)
		}
	}
	if c.FailedDir != "" {
		if p.Failed, err = filepath.Abs(c.FailedDir); err != nil {
			return Paths{}, fmt.Errorf("failed_dir: %w", err)
		}
	}
	return p, nil
}

// within reports whether child is dir or lies below it (lexically).
func within(dir, child string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(child))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// faxcronReason says why nothing of ferry's may lie in a HylaFAX recvq.
const faxcronReason = "HylaFAX's faxcron deletes every file under recvq (sub-folders included) 7 days after it was received (find recvq -type f -mtime +7), and faxes ferry keeps there would be lost; choose a folder outside it"

// withDefaults fills zero fields from DefaultConfig, so a Config decoded from
// YAML with only name, kind and path is complete.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Kind == "" {
		c.Kind = d.Kind
	}
	if c.Settle == 0 {
		c.Settle = d.Settle
	}
	if c.Rescan == 0 {
		c.Rescan = d.Rescan
	}
	if c.After == "" {
		c.After = d.After
	}
	if c.Ignore == nil {
		c.Ignore = DefaultIgnore
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = d.RetryInitial
	}
	if c.RetryMax == 0 {
		c.RetryMax = d.RetryMax
	}
	return c
}

// Validate checks the configuration without touching the disk. Each error
// starts with the yaml field name, so a caller can prefix its own path
// ("sources.folders[0].").
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch c.Kind {
	case "", "ehr", "fax", "hylafax":
	default:
		add("kind", "must be one of ehr, fax, hylafax; got %q", c.Kind)
	}
	if strings.TrimSpace(c.Path) == "" {
		add("path", "must name the folder to watch")
	}
	if c.Settle < 0 {
		add("settle", "must not be negative")
	}
	if c.Rescan < 0 {
		add("rescan", "must not be negative (zero means the default, 30s)")
	}
	switch c.After {
	case "", AfterMove, AfterDelete:
	default:
		add("after", "must be move or delete; got %q", c.After)
	}
	for i, p := range c.Ignore {
		if _, err := filepath.Match(p, "x"); err != nil {
			add(fmt.Sprintf("ignore[%d]", i), "bad pattern %q: %v", p, err)
		}
	}
	for i, p := range c.Include {
		if _, err := filepath.Match(p, "x"); err != nil {
			add(fmt.Sprintf("include[%d]", i), "bad pattern %q: %v", p, err)
		}
	}
	if c.MarkerSuffix != "" && (strings.ContainsAny(c.MarkerSuffix, `/\`) || c.MarkerSuffix == ".") {
		add("marker_suffix", "must be a plain name suffix like .done; got %q", c.MarkerSuffix)
	}
	for i, s := range c.Sidecars {
		if !strings.HasPrefix(s, ".") || len(s) < 2 || strings.ContainsAny(s, `/\*?[`) {
			add(fmt.Sprintf("sidecars[%d]", i), "must be an extension like .json; got %q", s)
		}
	}
	if c.SidecarRequired && len(c.Sidecars) == 0 {
		add("sidecar_required", "needs sidecars to list at least one extension")
	}
	if c.MaxBodyBytes < 0 {
		add("max_body_bytes", "must not be negative")
	}
	if c.RetryInitial < 0 {
		add("retry_initial", "must not be negative")
	}
	if c.RetryMax < 0 {
		add("retry_max", "must not be negative")
	}
	if c.RetryInitial > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryInitial {
		add("retry_max", "must not be below retry_initial")
	}
	if c.Path != "" {
		for _, d := range []struct{ field, dir string }{{"done_dir", c.DoneDir}, {"failed_dir", c.FailedDir}} {
			switch {
			case d.dir == "":
			case filepath.Clean(d.dir) == filepath.Clean(c.Path):
				add(d.field, "must not be the watched folder itself")
			case c.Kind == "hylafax" && within(c.Path, d.dir):
				add(d.field, "lies inside path, the HylaFAX recvq: %s", faxcronReason)
			}
		}
		if c.WorkDir != "" {
			switch {
			case within(c.Path, c.WorkDir) && c.Kind == "hylafax":
				add("work_dir", "lies inside path, the HylaFAX recvq: %s", faxcronReason)
			case within(c.Path, c.WorkDir):
				add("work_dir", "must lie outside the watched folder (leave it out for %s)", filepath.Join(c.Path, ".ferry"))
			case within(c.WorkDir, c.Path):
				add("work_dir", "must not contain the watched folder")
			case !strings.EqualFold(filepath.VolumeName(c.WorkDir), filepath.VolumeName(c.Path)):
				add("work_dir", "must be on the same volume as path: files are claimed by renaming them into it")
			}
		}
	}
	return errors.Join(errs...)
}
