// Package replaced is the durable registry of replaced document versions:
// the keys of the documents whose replacement ferry has accepted (a C-CDA
// with relatedDocument RPLC, an MDM^T10), and of the relations
// (replaces, appends) documents were accepted with.
//
// A replacement marks the version it replaces superseded with a PATCH
// that follows its own transaction; when the exchange does not hold that
// version yet, the PATCH finds nothing (404, done), and the version,
// arriving later (a go-live backfill of old exports in folder order, an
// input retried, an MDM T02 after its T10), would be written current: the
// exchange would hold two current versions of one document. The
// converters ask this registry (ccdafhir.Options.Replaced,
// v2fhir.Converter.Replaced) and write such a version superseded.
//
// The keys are opaque strings the converters make (Result.Replaces):
// hashes scoped to the patient, free of PHI. The registry stores the
// SHA-256 of each in a dedup.Set file (replaced.log in the data
// directory), so it has that file's format, crash behaviour (a torn tail
// is cut off, a damaged record skipped) and retention: at most MaxKeys
// keys, the oldest forgotten first, and no age limit. Past MaxKeys the
// oldest replacements are forgotten, and a version of one of those
// documents arriving after that is written current again, as before the
// registry existed. The default keeps 200,000 keys: 12.8 MB of heap when
// full (BenchmarkOpenFullHeap; a million hold 83.5 MB), next to the
// gateway's 60 MB target; a clinic replaces documents for years before
// that.
//
// One process at a time may have the file open; keep it in the data
// directory whose queue lock guards it.
package replaced

import (
	"fmt"
	"log/slog"

	"github.com/ferry-health/ferry/queue/dedup"
)

// FileName is the registry's file in the data directory.
const FileName = "replaced.log"

// DefaultMaxKeys is the retention when Options.MaxKeys is 0.
const DefaultMaxKeys = 200_000

// Options configures a Registry.
type Options struct {
	// MaxKeys keeps only the newest MaxKeys keys; default DefaultMaxKeys.
	MaxKeys int
	// Logger receives reports of damaged records (never key material).
	Logger *slog.Logger
}

// Registry is a durable set of replaced document versions and document
// relations. It is safe for concurrent use.
type Registry struct {
	set *dedup.Set
}

// Open opens or creates the registry stored at path.
func Open(path string, opts Options) (*Registry, error) {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	s, err := dedup.Open(path, dedup.Options{MaxKeys: opts.MaxKeys, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open replaced-document registry: %w", err)
	}
	return &Registry{set: s}, nil
}

// hash is the set key of key; the prefix keeps this set's keys apart
// from any other use of the file format.
func hash(key string) [32]byte {
	return dedup.KeyOf([]byte("ferry replaced"), []byte(key))
}

// Replaced reports whether key was added (and is still retained). It is
// the lookup the converters take (ccdafhir.Options.Replaced,
// v2fhir.Converter.Replaced); a nil Registry knows no key.
func (r *Registry) Replaced(key string) bool {
	return r != nil && r.set.Seen(hash(key))
}

// Add records keys and returns once they are on disk (fsync), so that the
// input that carried them may be acknowledged. Keys already present cost
// no write.
func (r *Registry) Add(keys ...string) error {
	for _, k := range keys {
		if err := r.set.Add(hash(k)); err != nil {
			return fmt.Errorf("record replaced document: %w", err)
		}
	}
	return nil
}

// Len is the number of keys retained.
func (r *Registry) Len() int { return r.set.Len() }

// Close writes what is left and closes the file.
func (r *Registry) Close() error {
	if err := r.set.Close(); err != nil {
		return fmt.Errorf("close replaced-document registry: %w", err)
	}
	return nil
}
