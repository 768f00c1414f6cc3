package faxfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/folder"
)

func TestSourceOID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"1.3.6.1.4.1.21367.2026.1", "1.3.6.1.4.1.21367.2026.1", true},
		{" urn:oid:2.16.840.1.113883.3.999 ", "2.16.840.1.113883.3.999", true},
		{"2.25." + strings.Repeat("9", 60), "", false}, // 64 characters at most
		{"2.25." + strings.Repeat("9", 59), "2.25." + strings.Repeat("9", 59), true},
		{"", "", false},
		{"1", "", false},      // one arc is no OID
		{"1.2.03", "", false}, // no leading zeros
		{"3.1.2", "", false},  // the first arc is 0, 1 or 2
		{"1.2.3.", "", false}, // no empty arc
		{"Riverside EHR", "", false},
		{"urn:uuid:6ba7b811-9dad-11d1-80b4-00c04fd430c8", "", false},
	} {
		got, ok := SourceOID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SourceOID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// sourceIDOfBundle is the SubmissionSet's ihe-sourceId in a bundle.
func sourceIDOfBundle(t *testing.T, b map[string]any) string {
	t.Helper()
	for _, e := range get(b, "entry").([]any) {
		if str(e, "resource", "resourceType") != "List" {
			continue
		}
		for _, x := range get(e, "resource", "extension").([]any) {
			if str(x, "url") == mhdSD+"ihe-sourceId" {
				return str(x, "valueIdentifier", "value")
			}
		}
	}
	t.Fatal("no SubmissionSet with an ihe-sourceId")
	return ""
}

// TestFolderSourceID: a fax from a folder with a source id of its own
// carries that sourceId, one from any other folder the fax section's, and
// the two bundles are otherwise byte for byte the same: the sourceId feeds
// no identifier, so a folder given its own later sends the faxes it sent
// before under the same ids (the exchange's ifNoneExist still finds them).
func TestFolderSourceID(t *testing.T) {
	base, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := base.WithFolderSourceIDs(map[string]string{"cloudfax": "urn:oid:1.3.6.1.4.1.21367.2026.2", "empty": ""})
	if err != nil {
		t.Fatal(err)
	}
	if base.FolderSourceID("cloudfax") != "" {
		t.Error("WithFolderSourceIDs changed the converter it was called on")
	}
	if got := c.FolderSourceID("cloudfax"); got != "1.3.6.1.4.1.21367.2026.2" {
		t.Errorf("FolderSourceID = %q", got)
	}
	meta := func(folderName string) map[string]string {
		m := testFax().Meta()
		if folderName != "" {
			m[folder.MetaFolder] = folderName
		}
		return m
	}
	bundles := map[string][]byte{}
	for _, f := range []string{"", "fax", "cloudfax", "empty"} {
		raw := rawFor(t, "g4-fine-1p.tif", testFax())
		raw.Meta = meta(f)
		b, err := c.Convert(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		want := "urn:oid:1.3.6.1.4.1.21367.2026.1"
		if f == "cloudfax" {
			want = "urn:oid:1.3.6.1.4.1.21367.2026.2"
		}
		if got := sourceIDOfBundle(t, generic(t, b)); got != want {
			t.Errorf("folder %q: ihe-sourceId %s, want %s", f, got, want)
		}
		// The streaming path says the same.
		var w bytes.Buffer
		if _, err := c.WriteRaw(context.Background(), &w, raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(w.Bytes(), []byte(`"`+want+`"`)) {
			t.Errorf("folder %q: WriteRaw's bundle does not carry %s", f, want)
		}
		bundles[f] = w.Bytes()
	}
	same := bytes.ReplaceAll(bundles["cloudfax"], []byte("1.3.6.1.4.1.21367.2026.2"), []byte("1.3.6.1.4.1.21367.2026.1"))
	if !bytes.Equal(same, bundles["fax"]) || !bytes.Equal(bundles[""], bundles["fax"]) {
		t.Error("the folder's source id changed more of the bundle than the SubmissionSet's ihe-sourceId")
	}

	if _, err := base.WithFolderSourceIDs(map[string]string{"bad": "1.2.03"}); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("a source id that is not an OID: %v, want an error naming the folder", err)
	}
}

// TestFaxIDsPinned pins the identifiers of one fax as ferry minted them
// before sourceIds could vary: the bundle's identifier, the
// SubmissionSet's uniqueId and entryUUID, the DocumentReferences'
// masterIdentifiers and fullUrls. A fax re-sent after an upgrade must find
// what the exchange holds; whatever its folder's sourceId, they stay.
func TestFaxIDsPinned(t *testing.T) {
	base, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	own, err := base.WithFolderSourceIDs(map[string]string{"fax": "1.3.6.1.4.1.21367.2026.9"})
	if err != nil {
		t.Fatal(err)
	}
	// As minted since a linked fax's ids take its patient (session 11:
	// the same form faxed for two patients was filed for the first only);
	// the source id still takes no part.
	want := []string{
		"bundle urn:uuid:086624cb-be77-57a0-9698-e7fef6e6d95b",
		"List urn:uuid:886dfc3d-4b6d-5590-a2ec-dc559e20960e",
		"List uniqueId urn:oid:2.25.181346083807810441237660078068868355598",
		"List entryUUID urn:uuid:886dfc3d-4b6d-5590-a2ec-dc559e20960e",
		"List ifNoneExist identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25.181346083807810441237660078068868355598",
		"DocumentReference urn:uuid:824c48d9-a91f-5423-8ef6-f86905ae13c5",
		"DocumentReference master urn:oid:2.25.173195731591631279587832685635138622405",
		"DocumentReference ifNoneExist identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25.173195731591631279587832685635138622405",
		"DocumentReference urn:uuid:f785b501-93ab-57c7-a71d-91f8ba3b30ac",
		"DocumentReference master urn:oid:2.25.329013561682127213436165820441930969260",
		"DocumentReference ifNoneExist identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25.329013561682127213436165820441930969260",
		"Binary urn:uuid:64bf523b-dc63-5408-b571-0cff7f158805",
		"Binary urn:uuid:abbd28c9-108b-5888-8f2c-feb90672ceb0",
	}
	for _, c := range []*Converter{base, own} {
		raw := rawFor(t, "g4-fine-1p.tif", testFax())
		raw.Meta[folder.MetaFolder] = "fax"
		b, err := c.Convert(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		got := pinnedIDs(generic(t, b))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("ids changed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// pinnedIDs lists a bundle's identifiers, one "what value" a line.
func pinnedIDs(b map[string]any) []string {
	out := []string{"bundle " + str(b, "identifier", "value")}
	for _, e := range get(b, "entry").([]any) {
		typ := str(e, "resource", "resourceType")
		switch typ {
		case "List":
			out = append(out, "List "+str(e, "fullUrl"), "List uniqueId "+str(e, "resource", "identifier", 0, "value"),
				"List entryUUID "+str(e, "resource", "identifier", 1, "value"), "List ifNoneExist "+str(e, "request", "ifNoneExist"))
		case "DocumentReference":
			out = append(out, "DocumentReference "+str(e, "fullUrl"), "DocumentReference master "+str(e, "resource", "masterIdentifier", "value"),
				"DocumentReference ifNoneExist "+str(e, "request", "ifNoneExist"))
		case "Binary":
			out = append(out, "Binary "+str(e, "fullUrl"))
		}
	}
	return out
}

// A Document's own SourceID is the SubmissionSet's; one that is not an
// OID gives way to the Config's.
func TestDocumentSourceID(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	for _, tc := range []struct{ in, want string }{
		{"", "urn:oid:1.3.6.1.4.1.21367.2026.1"},
		{"urn:oid:1.2.840.99999.1", "urn:oid:1.2.840.99999.1"},
		{"1.2.840.99999.1", "urn:oid:1.2.840.99999.1"},
		{"not an oid", "urn:oid:1.3.6.1.4.1.21367.2026.1"},
	} {
		var w bytes.Buffer
		d := Document{Name: "x.pdf", SourceID: tc.in, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}
		if _, err := c.WriteDocument(context.Background(), &w, d); err != nil {
			t.Fatal(err)
		}
		var b map[string]any
		if err := json.Unmarshal(w.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		if got := sourceIDOfBundle(t, b); got != tc.want {
			t.Errorf("SourceID %q: ihe-sourceId %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestConfigSourceIDIsAnXDSOID: fax.source_id is held to the rule a
// folder's source_id and an XDM package's sourceId already are (SourceOID:
// an OID of at most 64 characters, ITI TF-3 4.2.3.1.7), so a longer one,
// which an MHD recipient backed by an XDS registry refuses in every
// SubmissionSet, is a configuration error, not a dead letter per fax; one
// written urn:oid: or with spaces round it goes out bare as the others do.
func TestConfigSourceIDIsAnXDSOID(t *testing.T) {
	long := "2.25." + strings.Repeat("9", 60) // 65 characters
	cfg := testConfig()
	cfg.SourceID = long
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "source_id") {
		t.Errorf("source_id of %d characters: %v, want an error", len(long), err)
	}
	cfg.SourceID = " urn:oid:1.3.6.1.4.1.21367.2026.1 "
	b := convert(t, cfg, rawFor(t, "g4-fine-1p.tif", testFax()))
	if got := sourceIDOfBundle(t, b); got != "urn:oid:1.3.6.1.4.1.21367.2026.1" {
		t.Errorf("ihe-sourceId %q", got)
	}
}
