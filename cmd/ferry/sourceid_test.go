package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
)

// TestConvertersFolderSourceID: the gateway's converters give a fax from
// a folder with a source_id of its own that sourceId, and a fax from
// another folder fax.source_id; an XDM document takes its package's own
// sourceId first, then its folder's (good_source_id.yaml).
func TestConvertersFolderSourceID(t *testing.T) {
	cfg, err := config.Load("../../testdata/configs/good_source_id.yaml")
	if err != nil {
		t.Fatal(err)
	}
	convs := converters(cfg)
	tif, err := os.ReadFile("../../testdata/fax/g4-fine-1p.tif")
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	sourceID := func(format, folderName string, body []byte, meta map[string]string) string {
		t.Helper()
		if meta == nil {
			meta = map[string]string{}
		}
		meta[folder.MetaFolder] = folderName
		units, err := convs[format].Convert(context.Background(), adapters.Raw{Format: format, Name: "x", Body: body, Meta: meta, Received: time.Now()})
		if err != nil || len(units) != 1 {
			t.Fatalf("%s from %s: %v", format, folderName, err)
		}
		b := string(units[0].Bundle)
		const ext = `"url":"https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId","valueIdentifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:`
		i := strings.Index(b, ext)
		if i < 0 {
			t.Fatalf("%s from %s: no ihe-sourceId in %.300s", format, folderName, b)
		}
		return strings.SplitN(b[i+len(ext):], `"`, 2)[0]
	}
	for _, tc := range []struct{ folder, want string }{
		{"cloudfax", "1.3.6.1.4.1.21367.2026.2"},
		{"hylafax", "1.3.6.1.4.1.21367.2026.1"},
	} {
		if got := sourceID("fax", tc.folder, tif, nil); got != tc.want {
			t.Errorf("fax from %s: sourceId %s, want %s", tc.folder, got, tc.want)
		}
	}
	e := xdmfhir.Entry{UniqueID: "1.2.840.99999.7.9", MimeType: "application/pdf"}
	if got := sourceID(xdmfhir.Format, "ehr", pdf, e.Meta()); got != "1.3.6.1.4.1.21367.2026.3" {
		t.Errorf("XDM document without a sourceId: %s, want the ehr folder's", got)
	}
	e.SourceID = "1.2.840.99999.1"
	if got := sourceID(xdmfhir.Format, "ehr", pdf, e.Meta()); got != "1.2.840.99999.1" {
		t.Errorf("XDM document with its package's sourceId: %s, want that", got)
	}
}
