package faxfhir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestDocumentTextIsNoPlaceholder: the bundle is marshalled with a
// placeholder in each Binary's data, and the document's base64 is then
// streamed in place of the first text equal to it. The placeholder was
// derived from the document's own SHA-256 by a fixed rule, so whoever
// writes a document, and text that goes before its Binary (an XDM
// package's title or comments, an e-mailed fax's Message-ID or its
// "Key: value" lines), could write it: the document's base64 then went
// into that text, and the Binary kept the 30 placeholder bytes while its
// DocumentReference gave the document's SHA-1 and size (MHD ITI-65: the
// hash and size of the bytes in Binary.data). The placeholder is one
// nobody can know, as the pipeline's own (writeBundleSpill) is.
func TestDocumentTextIsNoPlaceholder(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")
	sum := sha256.Sum256(pdf)
	seed := sha256.Sum256([]byte(fmt.Sprintf("ferry placeholder %d %s", 0, hex.EncodeToString(sum[:]))))
	mark := base64.StdEncoding.EncodeToString(seed[:30])

	check := func(t *testing.T, body []byte, desc string) {
		t.Helper()
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string
					Data         []byte
					Description  string
					Extension    []struct {
						Extension []struct{ URL, ValueString string }
					}
				}
			}
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			r := e.Resource
			switch r.ResourceType {
			case "Binary":
				if !bytes.Equal(r.Data, pdf) {
					t.Errorf("Binary.data is %d bytes %q, want the document's %d", len(r.Data), r.Data, len(pdf))
				}
			case "DocumentReference":
				if desc != "" && r.Description != desc {
					t.Errorf("description became %.60q..., want it as written", r.Description)
				}
				for _, x := range r.Extension {
					for _, s := range x.Extension {
						if s.URL == "commId" && s.ValueString != mark {
							t.Errorf("commId became %.60q..., want it as written", s.ValueString)
						}
					}
				}
			}
		}
	}

	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("document", func(t *testing.T) {
		var out bytes.Buffer
		_, err := c.WriteDocument(context.Background(), &out, Document{Name: "doc.pdf", Description: mark,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }})
		if err != nil {
			t.Fatal(err)
		}
		check(t, out.Bytes(), mark)
	})
	t.Run("fax", func(t *testing.T) {
		fx := testFax()
		fx.CommID = mark
		var out bytes.Buffer
		if _, err := c.WriteRaw(context.Background(), &out, adapters.Raw{Name: "fax.pdf", Body: pdf, Received: received, Meta: fx.Meta()}); err != nil {
			t.Fatal(err)
		}
		check(t, out.Bytes(), "")
	})
}
