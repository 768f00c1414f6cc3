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
	// PreviousKeyFiles are keys rotated out (key rotation): read-only,
	// so that the queue items, dead letters, quarantine and held entries
	// sealed with them still open, while everything new is sealed with
	// KeyFile. Checked like KeyFile. Remove one once `ferry doctor` shows
	// nothing sealed with it remains.
	PreviousKeyFiles []string `yaml:"previous_key_files"`
}

// Enabled reports whether data at rest is sealed.
func (e Encryption) Enabled() bool { return e.KeyFile != "" }

func (e Encryption) validate(dataDir string) []Problem {
	if e.KeyFile == "" {
		if len(e.PreviousKeyFiles) > 0 {
			return []Problem{{Path: "encryption.previous_key_files", Msg: "previous keys without encryption.key_file: set key_file to the current key (previous keys only open data, they seal nothing)"}}
		}
		return nil
	}
	ps := keyFileProblems("encryption.key_file", e.KeyFile, dataDir)
	seen := map[string]bool{filepath.Clean(e.KeyFile): true}
	for i, f := range e.PreviousKeyFiles {
		path := fmt.Sprintf("encryption.previous_key_files[%d]", i)
		if pp := keyFileProblems(path, f, dataDir); len(pp) > 0 {
			ps = append(ps, pp...)
			continue
		}
		if seen[filepath.Clean(f)] {
			ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf("%s is listed twice (or is key_file itself)", f)})
		}
		seen[filepath.Clean(f)] = true
	}
	return ps
}

// keyFileProblems checks one key file setting at path.
func keyFileProblems(path, file, dataDir string) []Problem {
	p := func(format string, args ...any) []Problem {
		return []Problem{{Path: path, Msg: fmt.Sprintf(format, args...)}}
	}
	if file == "" {
		return p("empty: want the key file")
	}
	if strings.TrimSpace(file) != file || strings.ContainsAny(file, "\x00\n\r") {
		return p("%q is not a usable path (spaces at the ends or control characters)", file)
	}
	if strings.HasSuffix(file, "/") || strings.HasSuffix(file, `\`) {
		return p("%q names a directory; want the key file", file)
	}
	if within(dataDir, file) {
		return p("%s is inside data_dir %s: keep the key apart from the data it protects (a backup of data_dir would carry it)", file, dataDir)
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

// LoadKey reads encryption.key_file, with encryption.previous_key_files
// as its previous keys (seal.Key.WithPrevious); it returns nil, nil when
// encryption is off. Problems (missing, unreadable, malformed, readable by
// group or others) come back as an *Error naming the setting
// (encryption.key_file or encryption.previous_key_files[i]), like the
// other configuration problems. Parse does not read the key (validation
// is offline); `ferry config check`, doctor and the gateway call this.
func (c *Config) LoadKey() (*seal.Key, error) {
	if !c.Encryption.Enabled() {
		return nil, nil
	}
	k, err := c.loadKeyFile("encryption.key_file", c.Encryption.KeyFile, c.keyFileLine)
	if err != nil {
		return nil, err
	}
	var prev []*seal.Key
	for i, f := range c.Encryption.PreviousKeyFiles {
		path := fmt.Sprintf("encryption.previous_key_files[%d]", i)
		line := 0
		if c.root != nil {
			line = lineOf(c.root, path)
		}
		p, err := c.loadKeyFile(path, f, line)
		if err != nil {
			return nil, err
		}
		if p.ID() == k.ID() {
			return nil, c.keyProblem(path, line, fmt.Sprintf("%s holds the same key as encryption.key_file (key %s)", f, k.ID()), nil)
		}
		prev = append(prev, p)
	}
	if len(prev) > 0 {
		k = k.WithPrevious(prev...)
	}
	return k, nil
}

func (c *Config) loadKeyFile(path, file string, line int) (*seal.Key, error) {
	k, err := seal.LoadKey(file)
	if err == nil {
		return k, nil
	}
	msg := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("key file %s does not exist (make one with: ferry keygen %s)", file, file)
		if path != "encryption.key_file" {
			msg = fmt.Sprintf("key file %s does not exist (a previous key must be the file the data was sealed with)", file)
		}
	}
	return nil, c.keyProblem(path, line, msg, err)
}

func (c *Config) keyProblem(path string, line int, msg string, err error) error {
	name := c.source
	if name == "" {
		name = "config"
	}
	if err == nil {
		err = errors.New(msg)
	}
	return &Error{File: name, Problems: []Problem{{Path: path, Line: line, Msg: msg}}, err: err}
}
