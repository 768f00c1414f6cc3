package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// supersedeDocumentsTokens is the edit as it was written on
// encoding/json's tokens, which hold every string whole: the reference
// the streaming scanner (statusEdits) is compared with.
func supersedeDocumentsTokens(body []byte) ([]byte, int, error) {
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

// FuzzStatusEdits: the streaming scanner splices what the token-based
// edit does, on any input the token decoder reads; on input it refuses,
// the scanner's result is not compared (it is looser about literals).
func FuzzStatusEdits(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"data":"QUJD"}}]}}]}`,
		`{"status":"current","resourceType":"DocumentReference"}`,
		`{"resourceType":"Observation","status":"current"}`,
		`{"resourceType":"\u0044ocumentReference","status":"current","n":-1.5e+3,"b":[true,false,null]}`,
		`{"resourceType":"DocumentReference","status":"\u0063urrent"}`,
		`[{"resourceType":"DocumentReference","status":"current","contained":[{"resourceType":"DocumentReference","status":"current"}]}]`,
		`{"a":{"resourceType":"DocumentReference"},"status":"current"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wn, werr := supersedeDocumentsTokens(in)
		if werr != nil || !json.Valid(in) {
			return
		}
		got, gn, gerr := supersedeDocuments(in, statusSuperseded, statusCurrent)
		if gerr != nil || gn != wn || !bytes.Equal(got, want) {
			t.Fatalf("in %q:\nscanner %d %v %q\ntokens  %d %q", in, gn, gerr, got, wn, want)
		}
	})
}

// TestStatusEditsLongStrings: a string longer than what the scanner
// keeps (a document's base64 content) is skipped whole, escapes and all,
// and what follows it is still found.
func TestStatusEditsLongStrings(t *testing.T) {
	long := strings.Repeat("QUJD", 1<<20) + `\"` + strings.Repeat("x", 200)
	in := `{"resourceType":"DocumentReference","content":[{"attachment":{"data":"` + long + `"}}],"status":"current"}`
	edits, err := statusEdits(strings.NewReader(in), statusCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(strings.Index(in, `"current"`)); !slices.Equal(edits, []statusEdit{{want, len(statusCurrent)}}) {
		t.Fatalf("edits %v, want [%d]", edits, want)
	}
	for _, bad := range []string{`{"a":"x`, `{"a":1`, `{"a":1]`, `{1:2}`, "{\"a\":\"\x01\"}"} {
		if _, err := statusEdits(strings.NewReader(bad), statusCurrent); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
