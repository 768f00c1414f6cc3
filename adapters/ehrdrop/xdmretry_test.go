package ehrdrop

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/replaced"
)

// TestZipXDMRetriedVersionAfterReplacement: an XDM document refused by
// the exchange (dead-lettered), then replaced by a package whose RPLC
// Association names it and which the exchange took (its supersede PATCH
// finding nothing, 404, done), goes back superseded when the dead letter
// is retried, as a C-CDA's or an MDM document's does. Before, its bundle
// named no document version (attribute document_version), so the retry
// sent it current, beside its replacement.
func TestZipXDMRetriedVersionAfterReplacement(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	q.SetRetryEdit(pipeline.SupersedeReplaced(reg.Replaced, q.CreateBody))
	pipe := pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatXDMDocument: pipeline.XDMDocument{Conv: &xdmfhir.Converter{Docs: docs, Replaced: reg.Replaced}},
	}, nil)
	pipe.SetReplaced(reg)
	s := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	status := func(it *queue.Item) any {
		t.Helper()
		rc, err := it.OpenBody()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		return at(entryOf(t, b, "DocumentReference"), "resource", "status")
	}

	original := buildZip(t, time.Now(), zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000", pdfEntry())},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF})
	if err := s.consumeZip(ctx, adapters.Raw{Name: "original.zip", Body: original, Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	orig, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(orig); got != "current" {
		t.Fatalf("the original was filed %v, want current", got)
	}
	if err := ack(ctx, queue.Permanent(errors.New("HTTP 422"))); err != nil {
		t.Fatal(err)
	}
	if err := s.consumeZip(ctx, adapters.Raw{Name: "corrected.zip", Body: replacementPackage(t, "urn:ihe:iti:2007:AssociationType:RPLC", true), Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the replacement and its supersede batch, delivered
		_, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}

	if err := q.Retry(ctx, orig.ID); err != nil {
		t.Fatal(err)
	}
	again, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ack(ctx, nil)
	if got := status(again); got != "superseded" {
		t.Errorf("the original retried after its replacement went %v, want superseded (attrs %v)", got, again.Attrs)
	}
}
