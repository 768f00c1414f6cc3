package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
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
// rewrote as it was retried.
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
// one, whose supersede PATCH had found nothing to mark. Items without
// the attribute, or with their body in a file, are left as they are.
func SupersedeReplaced(replaced func(key string) bool) func(it *queue.Item) error {
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
		body, n, err := supersedeDocuments(it.Body)
		if err != nil {
			return fmt.Errorf("mark replaced document superseded: %w", err)
		}
		if n == 0 {
			return nil
		}
		it.Body = body
		it.Attrs = maps.Clone(it.Attrs)
		it.Attrs[AttrSupersededAtRetry] = "true"
		return nil
	}
}

// supersedeDocuments returns body with the status of every
// DocumentReference written "current" changed to "superseded", and how
// many it changed. Everything else keeps its bytes: the edit splices the
// status values the JSON tokens locate.
func supersedeDocuments(body []byte) ([]byte, int, error) {
	type frame struct {
		object    bool
		expectKey bool
		key       string
		docRef    bool
		status    int // offset of a "current" status value; -1: none
	}
	const current, superseded = `"current"`, `"superseded"`
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	var edits []int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		end := int(dec.InputOffset())
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.object {
					top.expectKey = true // this value is the container
				}
				stack = append(stack, &frame{object: t == '{', expectKey: t == '{', status: -1})
			default:
				if top.docRef && top.status >= 0 {
					edits = append(edits, top.status)
				}
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if top.expectKey {
			top.key, _ = tok.(string)
			top.expectKey = false
			continue
		}
		top.expectKey = true
		s, _ := tok.(string)
		switch {
		case top.key == "resourceType" && s == "DocumentReference":
			top.docRef = true
		case top.key == "status" && s == "current" && end >= len(current) && string(body[end-len(current):end]) == current:
			top.status = end - len(current)
		}
	}
	if len(edits) == 0 {
		return body, 0, nil
	}
	out := make([]byte, 0, len(body)+len(edits)*(len(superseded)-len(current)))
	last := 0
	// Objects close inner first; the offsets of siblings ascend.
	slices.Sort(edits)
	for _, at := range edits {
		out = append(out, body[last:at]...)
		out = append(out, superseded...)
		last = at + len(current)
	}
	out = append(out, body[last:]...)
	return out, len(edits), nil
}
