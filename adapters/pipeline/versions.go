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

// AttrDocumentCancel is the queue attribute naming, as AttrDocumentVersion
// does, the registry keys that say a document the item's bundle writes
// current or superseded was cancelled (v2fhir Result.Cancels: MDM^T11).
// A dead letter retried after such a cancel was delivered would otherwise
// file the withdrawn document current or superseded again, undoing the
// cancel's entered-in-error at the exchange: SupersedeReplaced writes it
// entered-in-error instead.
const AttrDocumentCancel = "document_cancel"

// AttrSupersededAtRetry is set ("true") on an item SupersedeReplaced
// rewrote as it was retried (or released from hold).
const AttrSupersededAtRetry = "superseded_at_retry"

// setDocumentVersions puts the version keys into attrs (a copy).
func setDocumentVersions(attrs map[string]string, keys ...string) map[string]string {
	return setDocumentKeys(attrs, AttrDocumentVersion, keys...)
}

// setDocumentKeys puts keys into attrs (a copy) under name.
func setDocumentKeys(attrs map[string]string, name string, keys ...string) map[string]string {
	if len(keys) == 0 {
		return attrs
	}
	attrs = maps.Clone(attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[name] = strings.Join(keys, ",")
	return attrs
}

// pseudonymVersions rewrites u's AttrDocumentVersion and
// AttrDocumentCancel keys through ps.
func pseudonymVersions(u *Unit, ps func(string) string) {
	for _, name := range []string{AttrDocumentVersion, AttrDocumentCancel} {
		v := u.Attrs[name]
		if v == "" {
			continue
		}
		keys := strings.Split(v, ",")
		for i, k := range keys {
			keys[i] = ps(k)
		}
		u.Attrs = setDocumentKeys(u.Attrs, name, keys...)
	}
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
// When replaced knows a key of AttrDocumentCancel, the document was
// cancelled (MDM^T11) after the item was converted: its current and
// superseded DocumentReferences are written entered-in-error instead, as
// they would be had the input arrived after its cancel, whether or not it
// was also replaced, before or after it was converted. Items without either attribute are left as they are.
//
// A body held in a file (it.Open; a document with its PDF, over the
// spill threshold) is edited as a stream: read once to find the status
// values, then copied through create (the queue's CreateBody, which seals
// it when data at rest is sealed) with them spliced, and it.BodyFile
// names the copy; it is never read into memory whole. Without create
// such an item is left as it is.
func SupersedeReplaced(replaced func(key string) bool, create func() (queue.BodyWriter, error)) func(it *queue.Item) error {
	return func(it *queue.Item) error {
		v, c := it.Attrs[AttrDocumentVersion], it.Attrs[AttrDocumentCancel]
		if v == "" && c == "" || it.BodyFile != "" || replaced == nil {
			return nil
		}
		anyKnown := func(keys string) bool {
			for k := range strings.SplitSeq(keys, ",") {
				if k != "" && replaced(k) {
					return true
				}
			}
			return false
		}
		// A cancel wins over a replacement: a withdrawn document is not
		// history of the record either (see AttrDocumentCancel), and a
		// document written superseded (its replacement known first) is
		// withdrawn all the same.
		to, from := statusSuperseded, []string{statusCurrent}
		switch {
		case anyKnown(c):
			to, from = statusEnteredInError, []string{statusCurrent, statusSuperseded}
		case !anyKnown(v):
			return nil
		}
		var n int
		var err error
		if it.Open != nil && it.Body == nil {
			if create == nil {
				return nil
			}
			n, err = supersedeFile(it, create, to, from...)
		} else {
			var body []byte
			if body, n, err = supersedeDocuments(it.Body, to, from...); err == nil && n > 0 {
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
// (it.Open is cleared). It returns how many status values it changed to
// to; with none it writes nothing.
func supersedeFile(it *queue.Item, create func() (queue.BodyWriter, error), to string, from ...string) (int, error) {
	rc, err := it.Open()
	if err != nil {
		return 0, err
	}
	edits, err := statusEdits(rc, from...)
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
	err = spliceStatus(w, rc, edits, to)
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
// DocumentReference written as one of from (statusCurrent, and for a
// cancel statusSuperseded too) changed to to (statusSuperseded or
// statusEnteredInError), and how many it changed. Everything else keeps
// its bytes: the edit splices the status values statusEdits locates.
func supersedeDocuments(body []byte, to string, from ...string) ([]byte, int, error) {
	edits, err := statusEdits(bytes.NewReader(body), from...)
	if err != nil || len(edits) == 0 {
		return body, 0, err
	}
	var out bytes.Buffer
	out.Grow(len(body) + len(edits)*len(to))
	if err := spliceStatus(&out, bytes.NewReader(body), edits, to); err != nil {
		return nil, 0, err
	}
	return out.Bytes(), len(edits), nil
}
