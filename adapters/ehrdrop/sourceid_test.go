package ehrdrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// The fixtures: one PDF referral in an XDM package, its METADATA.XML with
// and without the submission set's sourceId.
var (
	metadataWithSource    = filepath.Join("testdata", "xdm", "METADATA-sourceid.XML")
	metadataWithoutSource = filepath.Join("testdata", "xdm", "METADATA-no-sourceid.XML")
)

const (
	faxSourceID    = "1.3.6.1.4.1.21367.2026.1" // fax.source_id
	folderSourceID = "1.3.6.1.4.1.21367.2026.3" // the ehr folder's source_id
	senderSourceID = "1.2.840.99999.1"          // the fixture's sourceId
)

// sourcePipeline is newPipeline with the XDM documents filed by docs.
func sourcePipeline(t *testing.T, docs *faxfhir.Converter) (*pipeline.Pipeline, *memQueue) {
	t.Helper()
	quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	return pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatXDMDocument: pipeline.XDMDocument{Conv: &xdmfhir.Converter{Docs: docs}},
	}, nil), q
}

// relayPackage runs an XDM package with metadata (a METADATA.XML) and the
// fixture's PDF through the source of folder "ehr", and returns the PDF's
// bundle, what the source logged and the archive's SHA-256.
func relayPackage(t *testing.T, metadata []byte, folderIDs map[string]string, logPHI bool) (bundle []byte, log, archive string) {
	t.Helper()
	base, err := faxfhir.New(faxfhir.Config{SourceID: faxSourceID})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := base.WithFolderSourceIDs(folderIDs)
	if err != nil {
		t.Fatal(err)
	}
	pipe, q := sourcePipeline(t, docs)
	var logs bytes.Buffer
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20, logPHI: logPHI,
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	data := buildZip(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		zipFile{"INDEX.HTM", []byte("<html><body>Documents</body></html>")},
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadata},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.PDF", referralPDF},
	)
	sum := sha256.Sum256(data)
	meta := map[string]string{folder.MetaFolder: "ehr", folder.MetaSHA256: hex.EncodeToString(sum[:])}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "Roe Jane referral.zip", Body: data, Received: time.Now(), Meta: meta}); err != nil {
		t.Fatal(err)
	}
	items := q.all()
	if len(items) != 1 {
		t.Fatalf("queued %d bundles, want the PDF's", len(items))
	}
	return items[0].Body, logs.String(), meta[folder.MetaSHA256]
}

// submissionSet returns the bundle's SubmissionSet List entry.
func submissionSet(t *testing.T, bundle []byte) map[string]any {
	t.Helper()
	e := entryOf(t, bundle, "List")
	if e == nil {
		t.Fatalf("no SubmissionSet in %s", bundle)
	}
	return e
}

func ihesourceID(t *testing.T, bundle []byte) string {
	t.Helper()
	exts, _ := at(submissionSet(t, bundle), "resource", "extension").([]any)
	for _, x := range exts {
		if at(x, "url") == "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId" {
			s, _ := at(x, "valueIdentifier", "value").(string)
			return s
		}
	}
	return ""
}

// TestXDMSourceID: an XDM package's PDF goes to the exchange under the
// package's own sourceId when its METADATA.XML gives a valid OID there (a
// broker must use a different sourceId for each source system, IHE MHD);
// without one under the ehr folder's source_id, else fax.source_id. A
// sourceId that is not an OID falls back the same way, with a warning
// that names the archive by its hash and says nothing of the patient. The
// document's and the SubmissionSet's identifiers are the same in every
// case.
func TestXDMSourceID(t *testing.T) {
	with, without := readFile(t, metadataWithSource), readFile(t, metadataWithoutSource)
	bad := bytes.Replace(with, []byte(`value="`+senderSourceID+`"`), []byte(`value="Riverside EHR 2.0"`), 1)
	if bytes.Equal(bad, with) {
		t.Fatal("the fixture's sourceId was not found")
	}
	folderIDs := map[string]string{"ehr": folderSourceID}
	var ids []string
	for _, tc := range []struct {
		name     string
		metadata []byte
		folders  map[string]string
		want     string
		warn     bool
	}{
		{"the package's own", with, folderIDs, senderSourceID, false},
		{"the package's own, folder without one", with, nil, senderSourceID, false},
		{"none: the folder's", without, folderIDs, folderSourceID, false},
		{"none: fax.source_id", without, nil, faxSourceID, false},
		{"not an OID: the folder's", bad, folderIDs, folderSourceID, true},
		{"not an OID: fax.source_id", bad, nil, faxSourceID, true},
	} {
		bundle, log, archive := relayPackage(t, tc.metadata, tc.folders, false)
		if got := ihesourceID(t, bundle); got != "urn:oid:"+tc.want {
			t.Errorf("%s: ihe-sourceId %s, want urn:oid:%s", tc.name, got, tc.want)
		}
		ss := submissionSet(t, bundle)
		doc := entryOf(t, bundle, "DocumentReference")
		id := strings.Join([]string{at(ss, "fullUrl").(string), at(ss, "request", "ifNoneExist").(string),
			at(doc, "fullUrl").(string), at(doc, "resource", "masterIdentifier", "value").(string)}, " ")
		ids = append(ids, id)
		if id != ids[0] {
			t.Errorf("%s: identifiers %s differ from %s", tc.name, id, ids[0])
		}
		if got := strings.Contains(log, "level=WARN"); got != tc.warn {
			t.Errorf("%s: warned %v, want %v: %s", tc.name, got, tc.warn, log)
		}
		if tc.warn {
			if !strings.Contains(log, "sha256="+archive[:12]) || !strings.Contains(log, "subset=1") {
				t.Errorf("%s: the warning names neither the archive's hash nor the subset: %s", tc.name, log)
			}
			for _, phi := range []string{"Roe", "Jane", "MRN-7", "LOCAL-7", "19700101", "Riverside EHR", "referral.zip"} {
				if strings.Contains(log, phi) {
					t.Errorf("%s: the warning shows %q: %s", tc.name, phi, log)
				}
			}
		}
	}

	// With log_phi the warning shows the value it refused.
	if _, log, _ := relayPackage(t, bad, nil, true); !strings.Contains(log, "Riverside EHR 2.0") {
		t.Errorf("log_phi: the warning does not show the refused value: %s", log)
	}
}
