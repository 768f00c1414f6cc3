package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/ferry-health/ferry/queue/seal"
)

// Encryption seals what ferry keeps at rest (ARCHITECTURE invariant 5):
// queue records, spilled bodies, dead letters, quarantined inputs and held
// bundles, with AES-256-GCM under the key in KeyFile. Empty KeyFile: off.
type Encryption struct {
	// KeyFile is the key made by `ferry keygen`, readable by the ferry
	// account only. Like data_dir, a relative path is taken from the
	// working directory; it must lie outside data_dir, so that a copy of
	// the data does not carry its key.
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether data at rest is sealed.
func (e Encryption) Enabled() bool { return e.KeyFile != "" }

func (e Encryption) validate(dataDir string) []Problem {
	if e.KeyFile == "" {
		return nil
	}
	p := func(format string, args ...any) []Problem {
		return []Problem{{Path: "encryption.key_file", Msg: fmt.Sprintf(format, args...)}}
	}
	if strings.TrimSpace(e.KeyFile) != e.KeyFile || strings.ContainsAny(e.KeyFile, "\x00\n\r") {
		return p("%q is not a usable path (spaces at the ends or control characters)", e.KeyFile)
	}
	if strings.HasSuffix(e.KeyFile, "/") || strings.HasSuffix(e.KeyFile, `\`) {
		return p("%q names a directory; want the key file", e.KeyFile)
	}
	if within(dataDir, e.KeyFile) {
		return p("%s is inside data_dir %s: keep the key apart from the data it protects (a backup of data_dir would carry it)", e.KeyFile, dataDir)
	}
	return nil
}

// within reports whether path lies inside dir, both taken as absolute.
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	f, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, f)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// LoadKey reads encryption.key_file; it returns nil, nil when encryption
// is off. Problems (missing, unreadable, malformed, readable by group or
// others) come back as an *Error naming encryption.key_file, like the
// other configuration problems. Parse does not read the key (validation
// is offline); `ferry config check`, doctor and the gateway call this.
func (c *Config) LoadKey() (*seal.Key, error) {
	if !c.Encryption.Enabled() {
		return nil, nil
	}
	k, err := seal.LoadKey(c.Encryption.KeyFile)
	if err == nil {
		return k, nil
	}
	msg := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("key file %s does not exist (make one with: ferry keygen %s)", c.Encryption.KeyFile, c.Encryption.KeyFile)
	}
	name := c.source
	if name == "" {
		name = "config"
	}
	return nil, &Error{File: name, Problems: []Problem{{Path: "encryption.key_file", Line: c.keyFileLine, Msg: msg}}, err: err}
}
