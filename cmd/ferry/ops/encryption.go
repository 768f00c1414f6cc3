package ops

import (
	"errors"
	"fmt"
	"os"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/seal"
)

// CheckEncryption reports whether data at rest is encrypted, whether the
// key file loads (exists, is a key, is readable by its owner only), and
// whether the quarantine and held entries open with it: entries sealed
// with another key, or sealed while encryption is now off, wait for the
// right key and are named here.
func CheckEncryption(cfg *config.Config) []Check {
	c := Check{Area: "encryption", Name: "data at rest"}
	key, err := cfg.LoadKey()
	switch {
	case err != nil:
		c.Name = cfg.Encryption.KeyFile
		c.Level = Fail
		var ce *config.Error
		if errors.As(err, &ce) && len(ce.Problems) == 1 {
			c.Detail = "encryption.key_file: " + ce.Problems[0].Msg
		} else {
			c.Detail = err.Error()
		}
		return []Check{c}
	case key == nil:
		c.Detail = "off (to encrypt the queue, quarantine and held bundles: ferry keygen FILE, then encryption.key_file)"
	default:
		c.Name = cfg.Encryption.KeyFile
		c.Detail = "on (key " + key.ID() + "); keep a copy of the key file away from this machine"
	}
	out := []Check{c}
	for _, s := range []struct{ what, dir string }{{"quarantine", cfg.Path("quarantine")}, {"held", cfg.Path("held")}} {
		if bad, first := unreadableEntries(s.what, s.dir, key); bad > 0 {
			out = append(out, Check{Area: "encryption", Name: s.dir, Level: Fail,
				Detail: fmt.Sprintf("%d entr%s cannot be opened with the configured key: %v", bad, plural(bad, "y", "ies"), first)})
		}
	}
	return out
}

// unreadableEntries counts the entries of a quarantine or held store in
// dir that fail to open for a key reason.
func unreadableEntries(what, dir string, key *seal.Key) (int, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, nil // never created: nothing stored
	}
	var list func() ([]string, error)
	var get func(string) error
	if what == "held" {
		h, err := pipeline.OpenHeld(dir)
		if err != nil {
			return 0, nil
		}
		h.SetKey(key)
		list, get = h.List, func(id string) error { _, err := h.Get(id); return err }
	} else {
		q, err := pipeline.OpenQuarantine(dir)
		if err != nil {
			return 0, nil
		}
		q.SetKey(key)
		list, get = q.List, func(id string) error { _, err := q.Get(id); return err }
	}
	ids, err := list()
	if err != nil {
		return 0, nil
	}
	n := 0
	var first error
	for _, id := range ids {
		err := get(id)
		var km *seal.KeyMismatchError
		if errors.Is(err, pipeline.ErrNoKey) || errors.As(err, &km) {
			n++
			if first == nil {
				first = err
			}
		}
	}
	return n, first
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
