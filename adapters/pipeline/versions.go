package pipeline

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/ferry-health/ferry/queue"
)

// AttrDocumentVersion is the queue attribute naming, by their keys in the
// registry of replaced documents (ccdafhir Result.VersionKey, v2fhir
// Result.Versions; comma-separated), the document versions an item's
// bundle writes current. A dead letter retried after a replacement of
// its document was accepted would otherwise make that old version
// current again at the exchange, beside its replacement:
// SupersedeReplaced, the queue's retry edit, reads it. With data at rest
// sealed the keys are pseudonyms (SetPseudonym), which the pipeline
// records in the registry beside the keys themselves.
const AttrDocumentVersion = "document_version"

// AttrSupersededAtRetry is set ("true") on an item SupersedeReplaced
// rewrote as it was retried (or released from hold).
const AttrSupersededAtRetry = "superseded_at_retry"

// setDocumentVersions puts the version keys into attrs (a copy).
func setDocumentVersions(attrs map[string]string, keys ...string) map[string]string {
	if len(keys) == 0 {
		return attrs
	}
	attrs = maps.Clone(attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[AttrDocumentVersion] = strings.Join(keys, ",")
	return attrs
}

// pseudonymVersions rewrites u's AttrDocumentVersion keys through ps.
func pseudonymVersions(u *Unit, ps func(string) string) {
	v := u.Attrs[AttrDocumentVersion]
	if v == "" {
		return
	}
	keys := strings.Split(v, ",")
	for i, k := range keys {
		keys[i] = ps(k)
	}
	u.Attrs = setDocumentVersions(u.Attrs, keys...)
}

// SupersedeReplaced returns the edit a queue makes to a dead letter it
// puts back (diskq.Queue.SetRetryEdit): when replaced (the registry of
// replaced documents, replaced.Registry.Replaced) knows a version the
// item's bundle writes current (AttrDocumentVersion), the bundle's
// current DocumentReferences are written superseded instead, as they
// would be had the input arrived after its replacement. Without it a
// version dead-lettered (a 4xx), then replaced by one the exchange took,
// then retried by an operator would be current again beside the newer
// one, whose supersede PATCH had found nothing to mark. `ferry held
// release` passes a held bundle through it too, for the same reason.
// Items without the attribute are left as they are.
//
// A body held in a file (it.Open; a document with its PDF, over the
// spill threshold) is edited as a stream: read once to find the status
// values, then copied through create (the queue's CreateBody, which seals
// it when data at rest is sealed) with them spliced, and it.BodyFile
// names the copy; it is never read into memory whole. Without create
// such an item is left as it is.
func SupersedeReplaced(replaced func(key string) bool, create func() (queue.BodyWriter, error)) func(it *queue.Item) error {
	return func(it *queue.Item) error {
		v := it.Attrs[AttrDocumentVersion]
		if v == "" || it.BodyFile != "" || replaced == nil {
			return nil
		}
		known := false
		for _, k := range strings.Split(v, ",") {
			known = known || replaced(k)
		}
		if !known {
			return nil
		}
		var n int
		var err error
		if it.Open != nil && it.Body == nil {
			if create == nil {
				return nil
			}
			n, err = supersedeFile(it, create)
		} else {
			var body []byte
			if body, n, err = supersedeDocuments(it.Body); err == nil && n > 0 {
				it.Body = body
			}
		}
		if err != nil {
			return fmt.Errorf("mark replaced document superseded: %w", err)
		}
		if n == 0 {
			return nil
		}
		it.Attrs = maps.Clone(it.Attrs)
		it.Attrs[AttrSupersededAtRetry] = "true"
		return nil
	}
}

// supersedeFile is supersedeDocuments for a body read through it.Open:
// the edited copy is written through create and named by it.BodyFile
// (it.Open is cleared). It returns how many status values it changed;
// with none it writes nothing.
func supersedeFile(it *queue.Item, create func() (queue.BodyWriter, error)) (int, error) {
	rc, err := it.Open()
	if err != nil {
		return 0, err
	}
	edits, err := statusEdits(rc)
	rc.Close()
	if err != nil || len(edits) == 0 {
		return 0, err
	}
	if rc, err = it.Open(); err != nil {
		return 0, err
	}
	defer rc.Close()
	w, err := create()
	if err != nil {
		return 0, err
	}
	err = spliceStatus(w, rc, edits)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.Name())
		return 0, err
	}
	it.BodyFile, it.Open, it.Size = w.Name(), nil, 0
	return len(edits), nil
}

// supersedeDocuments returns body with the status of every
// DocumentReference written "current" changed to "superseded", and how
// many it changed. Everything else keeps its bytes: the edit splices the
// status values statusEdits locates.
func supersedeDocuments(body []byte) ([]byte, int, error) {
	edits, err := statusEdits(bytes.NewReader(body))
	if err != nil || len(edits) == 0 {
		return body, 0, err
	}
	var out bytes.Buffer
	out.Grow(len(body) + len(edits)*(len(statusSuperseded)-len(statusCurrent)))
	if err := spliceStatus(&out, bytes.NewReader(body), edits); err != nil {
		return nil, 0, err
	}
	return out.Bytes(), len(edits), nil
}
