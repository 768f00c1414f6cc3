package ops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
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
	if key != nil {
		out = append(out, plaintextArchives(cfg)...)
	}
	for _, s := range []struct{ what, dir string }{{"quarantine", cfg.Path("quarantine")}, {"held", cfg.Path("held")}} {
		if bad, first := unreadableEntries(s.what, s.dir, key); bad > 0 {
			out = append(out, Check{Area: "encryption", Name: s.dir, Level: Fail,
				Detail: fmt.Sprintf("%d entr%s cannot be opened with the configured key: %v", bad, plural(bad, "y", "ies"), first)})
		}
	}
	return append(out, keyUseChecks(cfg, key)...)
}

// plaintextArchives warns, with encryption at rest on, about each folder
// source that keeps its inputs as they came in done/ (after: move, the
// default): the faxes and exports ferry has sent stay there in clear for
// retention.done, which the key does not cover.
func plaintextArchives(cfg *config.Config) []Check {
	var out []Check
	for _, f := range cfg.Sources.Folders {
		if f.After == folder.AfterDelete {
			continue
		}
		where := "done/"
		if f.DoneDir != "" {
			where = f.DoneDir
		}
		out = append(out, Check{Area: "encryption", Name: "sources.folders " + f.Name, Level: Warn,
			Detail: fmt.Sprintf("keeps each input as it came, in clear, in %s for retention.done (%s), which encryption at rest does not cover: "+
				"set after: delete, shorten retention.done, or put done_dir on an encrypted volume", where, days(cfg.Retention.Done))})
	}
	return out
}

// days writes a whole number of days as such ("30 days"), other
// durations as Go does.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// keyUseChecks says, per key, what data_dir still holds sealed with it:
// for a previous key (encryption.previous_key_files) whether it is still
// needed or can be removed, and for a key that no configured key is, that
// the gateway will not start.
func keyUseChecks(cfg *config.Config, key *seal.Key) []Check {
	var qu map[string]diskq.KeyUse
	if _, err := os.Stat(QueueDir(cfg)); err == nil {
		var err error
		if qu, err = diskq.InspectSealedKeys(QueueDir(cfg), DeadLetterDir(cfg)); err != nil {
			return []Check{{Area: "encryption", Name: "keys in use", Level: Warn, Detail: err.Error()}}
		}
	}
	use := SealedKeys(cfg, qu)
	var out []Check
	if key != nil {
		// The audit spool's events (sealed with the key of the day they
		// were spooled) need their key until they are sent: one that no
		// configured key opens is dropped. They do not stop a start, so
		// they count here only.
		spooled, err := audit.SpoolKeys(cfg.Path("audit", "spool"))
		if err != nil {
			out = append(out, Check{Area: "encryption", Name: "keys in use", Level: Warn, Detail: err.Error()})
		}
		// So do the events commands handed off for the gateway to
		// spool (audit/handoff), which it takes in as they are sealed.
		handedOff, err := audit.HandoffKeys(cfg.Path("audit", "handoff"))
		if err != nil {
			out = append(out, Check{Area: "encryption", Name: "keys in use", Level: Warn, Detail: err.Error()})
		}
		if spooled == nil {
			spooled = map[string]int{}
		}
		for id, n := range handedOff {
			spooled[id] += n
		}
		// A dead letter keeps the patient identifier its Export event
		// names sealed with the key of the day the item was queued,
		// which after a rotation can be a previous key while the dead
		// letter itself is sealed with the current one. An identifier
		// no configured key opens is not a reason to refuse a start
		// (the event names the patient key), so it counts here only.
		var attrDead map[string]int
		if _, err := os.Stat(QueueDir(cfg)); err == nil {
			attrDead, err = diskq.InspectDeadLetterAttrKeys(QueueDir(cfg), DeadLetterDir(cfg), key, func(a map[string]string) (string, bool) {
				return pipeline.PatientKeyID(a[pipeline.AttrPatient])
			})
			if err != nil {
				out = append(out, Check{Area: "encryption", Name: "keys in use", Level: Warn, Detail: err.Error()})
			}
		}
		for i, id := range key.PreviousIDs() {
			c := Check{Area: "encryption", Name: fmt.Sprintf("encryption.previous_key_files[%d]", i)}
			if i < len(cfg.Encryption.PreviousKeyFiles) {
				c.Name = cfg.Encryption.PreviousKeyFiles[i]
			}
			u, ok := use[id]
			if n := spooled[id]; n > 0 {
				u.AuditEvents, ok = n, true
			}
			if n := attrDead[id]; n > 0 {
				u.DeadLetters, ok = u.DeadLetters+n, true
			}
			if ok {
				c.Detail = fmt.Sprintf("previous key %s still opens %s; keep it until they are gone (delivered, released, replayed, discarded or purged)", id, u)
			} else {
				c.Detail = fmt.Sprintf("previous key %s: nothing sealed with it remains; it can be removed from encryption.previous_key_files", id)
			}
			out = append(out, c)
		}
	}
	if err := CheckSealedKeys(key, use); err != nil {
		out = append(out, Check{Area: "encryption", Name: "keys in use", Level: Fail, Detail: err.Error()})
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

// KeyUse counts what data_dir holds sealed with one key.
type KeyUse struct {
	Items       int // unsettled queue items
	DeadLetters int // the queue's dead letters
	Quarantine  int // quarantine entries
	Held        int // held entries
	AuditEvents int // audit events spooled (counted for previous keys only)
	Merges      int // records of merges.log (sealed anew with the current key at each start)
}

func (u KeyUse) String() string {
	var parts []string
	add := func(n int, one, many string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, plural(n, one, many)))
		}
	}
	add(u.Items, "queue item", "queue items")
	add(u.DeadLetters, "dead letter", "dead letters")
	add(u.Quarantine, "quarantine entry", "quarantine entries")
	add(u.Held, "held entry", "held entries")
	add(u.AuditEvents, "audit event waiting for the audit repository", "audit events waiting for the audit repository")
	add(u.Merges, "patient merge record (merges.log, sealed anew at the next start)", "patient merge records (merges.log, sealed anew at the next start)")
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// SealedKeys counts, per key id, what data_dir holds sealed with that
// key: the queue's items and dead letters (queueUse, from the open queue's
// SealedKeys or from diskq.InspectSealedKeys) and the quarantine and held
// entries. It reads file headers only. Plaintext data is not counted.
func SealedKeys(cfg *config.Config, queueUse map[string]diskq.KeyUse) map[string]KeyUse {
	use := map[string]KeyUse{}
	for id, u := range queueUse {
		use[id] = KeyUse{Items: u.Items, DeadLetters: u.DeadLetters}
	}
	for _, s := range []struct {
		dir  string
		held bool
	}{{cfg.Path("quarantine"), false}, {cfg.Path("held"), true}} {
		for id, n := range entryKeys(s.dir) {
			u := use[id]
			if s.held {
				u.Held += n
			} else {
				u.Quarantine += n
			}
			use[id] = u
		}
	}
	// Unreadable here, merges.log is left to the gateway's start, which
	// names the problem.
	mk, _ := merges.SealedKeys(cfg.Path(merges.FileName))
	for id, n := range mk {
		u := use[id]
		u.Merges += n
		use[id] = u
	}
	return use
}

// entryKeys counts the entries of a quarantine or held store per key id
// of their sealed files (an entry whose bundle file is sealed with another
// key than the entry counts for both).
func entryKeys(dir string) map[string]int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	byEntry := map[string]map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") {
			continue
		}
		id, ok := fileKeyID(filepath.Join(dir, n))
		if !ok {
			continue
		}
		entry, _, _ := strings.Cut(n, ".")
		if byEntry[entry] == nil {
			byEntry[entry] = map[string]bool{}
		}
		byEntry[entry][id] = true
	}
	out := map[string]int{}
	for _, ids := range byEntry {
		for id := range ids {
			out[id]++
		}
	}
	return out
}

// fileKeyID reads the key id from the header of a sealed file.
func fileKeyID(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	h := make([]byte, seal.StreamHeaderLen)
	n, _ := io.ReadFull(f, h)
	return seal.KeyIDOf(h[:n])
}

// CheckSealedKeys refuses a start with key (nil: encryption off) while
// data_dir holds data sealed with a key that is neither
// encryption.key_file nor one of encryption.previous_key_files: a gateway
// that took input then would seal it with a key that cannot open the
// rest (or leave it in clear beside data it cannot open), and no single
// configuration would deliver the whole queue again. The error names the
// key ids (never key material) and what to do.
func CheckSealedKeys(key *seal.Key, use map[string]KeyUse) error {
	var unknown []string
	for id := range use {
		if key == nil || !key.Knows(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	var held []string
	for _, id := range unknown {
		held = append(held, fmt.Sprintf("key %s (%s)", id, use[id]))
	}
	configured := "encryption is off (no encryption.key_file)"
	if key != nil {
		configured = "the configured key is " + key.ID() + " (encryption.key_file)"
		if prev := key.PreviousIDs(); len(prev) > 0 {
			configured += ", the previous keys " + strings.Join(prev, ", ") + " (encryption.previous_key_files)"
		}
	}
	return fmt.Errorf("data_dir holds data sealed with %s, but %s: the gateway does not start while it does, since input taken "+
		"then could not be delivered with the same keys as that data; configure the key file with that id as encryption.key_file (or, after a key rotation, "+
		"list it in encryption.previous_key_files), or, only if that key is lost for good, purge what it sealed "+
		"(ferry queue purge, ferry quarantine purge, ferry held discard)",
		strings.Join(held, "; "), configured)
}

// CheckQueueKeys is CheckSealedKeys for a gateway that has just opened
// its queue q (under its lock, before any input is taken).
func CheckQueueKeys(cfg *config.Config, key *seal.Key, q *diskq.Queue) error {
	qu, err := q.SealedKeys()
	if err != nil {
		return err
	}
	return CheckSealedKeys(key, SealedKeys(cfg, qu))
}
