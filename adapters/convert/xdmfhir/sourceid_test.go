package xdmfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestSourceIDOrder: the SubmissionSet's ihe-sourceId is the package's own
// sourceId when METADATA.XML gives a valid OID, else the folder's source
// id, else fax.source_id; and the bundle is otherwise the same in every
// case (the sourceId feeds no identifier).
func TestSourceIDOrder(t *testing.T) {
	const (
		faxSource    = "1.3.6.1.4.1.21367.2026.1"
		folderSource = "1.3.6.1.4.1.21367.2026.3"
		pkgSource    = "1.2.840.99999.1"
	)
	base, err := faxfhir.New(faxfhir.Config{SourceID: faxSource})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := base.WithFolderSourceIDs(map[string]string{"direct": folderSource})
	if err != nil {
		t.Fatal(err)
	}
	c := &Converter{Docs: docs}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	var first []byte
	for _, tc := range []struct {
		name, pkg, folder, want string
	}{
		{"package's own", pkgSource, "direct", pkgSource},
		{"package's own, as a URN", "urn:oid:" + pkgSource, "direct", pkgSource},
		{"package's own, other folder", pkgSource, "ehr", pkgSource},
		{"none: the folder's", "", "direct", folderSource},
		{"not an OID: the folder's", "Riverside EHR", "direct", folderSource},
		{"too long: the folder's", "2.25.1234567890123456789012345678901234567890123456789012345678901", "direct", folderSource},
		{"none, folder without one: fax.source_id", "", "ehr", faxSource},
		{"not an OID, folder without one: fax.source_id", "1.2.03", "ehr", faxSource},
		{"none, no folder: fax.source_id", "", "", faxSource},
	} {
		e := referralEntry()
		e.SourceID = tc.pkg
		meta := e.Meta()
		if tc.folder != "" {
			meta[folder.MetaFolder] = tc.folder
		}
		var body bytes.Buffer
		if _, err := c.WriteRaw(context.Background(), &body, adapters.Raw{Name: "doc.pdf", Body: pdf, Meta: meta}); err != nil {
			t.Fatal(err)
		}
		lists := resourcesOf(t, body.Bytes(), "List")
		if len(lists) != 1 {
			t.Fatalf("%s: %d SubmissionSets", tc.name, len(lists))
		}
		var got string
		for _, x := range lists[0]["extension"].([]any) {
			if x := x.(map[string]any); x["url"] == "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId" {
				got, _ = x["valueIdentifier"].(map[string]any)["value"].(string)
			}
		}
		if got != "urn:oid:"+tc.want {
			t.Errorf("%s: ihe-sourceId %q, want urn:oid:%s", tc.name, got, tc.want)
		}
		same := bytes.ReplaceAll(body.Bytes(), []byte(`"urn:oid:`+tc.want+`"`), []byte(`"urn:oid:SOURCE"`))
		if first == nil {
			first = same
		} else if !bytes.Equal(same, first) {
			t.Errorf("%s: the bundle differs from the first case's in more than the sourceId", tc.name)
		}
	}
}

// resourcesOf decodes a bundle and returns its resources of type typ.
func resourcesOf(t *testing.T, body []byte, typ string) []map[string]any {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return resources(b, typ)
}
