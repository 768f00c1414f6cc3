package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// TestFaxExportNamesSubmissionSet: the Export a document source records
// for an ITI-65 Provide Document Bundle names the patient and the
// SubmissionSet as entities (STANDARDS.md; MHD's
// IHE.MHD.ProvideBundle.Audit.Source makes entity[submissionSet] 1..1,
// and ITI-41's source audit, which ITI-65's follows, gives its
// ParticipantObjectID as the submission set's unique id). The object must
// name the List the exchange received, so the repository's record and the
// exchange's document can be matched.
func TestFaxExportNamesSubmissionSet(t *testing.T) {
	recv, export := faxExport(t, "")
	lists := recv.Resources("List")
	if len(lists) != 1 {
		t.Fatalf("SubmissionSet Lists at the exchange: %d, want 1", len(lists))
	}
	var list struct {
		Identifier []struct {
			Type  struct{ Coding []struct{ Code string } }
			Value string
		}
	}
	if err := json.Unmarshal(lists[0], &list); err != nil {
		t.Fatal(err)
	}
	uniqueID := ""
	for _, id := range list.Identifier {
		if len(id.Type.Coding) > 0 && id.Type.Coding[0].Code == "uniqueId" {
			uniqueID = id.Value
		}
	}
	if uniqueID == "" {
		t.Fatalf("the SubmissionSet has no uniqueId: %s", lists[0])
	}
	wantIn(t, "ITI-65 export event", export, `csd-code="ITI-65"`,
		`<ParticipantObjectIdentification ParticipantObjectID="`+uniqueID+`" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="20"><ParticipantObjectIDTypeCode csd-code="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"`)
}

// TestFaxSimplifiedPublish: with fax.profile mhd-simplified a fax that
// names its patient reaches the exchange as one DocumentReference created
// at [base]/DocumentReference (IHE MHD ITI-105), its PDF inline: no
// SubmissionSet, no Binary. Its audit event is ITI-105's and names the
// document the exchange holds by its uniqueId (audit-105: the
// DocumentReference as entity, in place of the SubmissionSet).
func TestFaxSimplifiedPublish(t *testing.T) {
	recv, export := faxExport(t, "mhd-simplified")
	docs := recv.Resources("DocumentReference")
	if n := recv.Counts(); len(docs) != 1 || n["List"] != 0 || n["Binary"] != 0 || recv.Bundles() != 0 {
		t.Fatalf("at the exchange: %v, %d bundles; want one DocumentReference alone\n%s", n, recv.Bundles(), export)
	}
	var doc struct {
		MasterIdentifier struct{ Value string }
		Subject          struct{ Identifier struct{ Value string } }
		Content          []struct{ Attachment struct{ Data []byte } }
	}
	if err := json.Unmarshal(docs[0], &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Subject.Identifier.Value != "48213" || len(doc.Content) != 1 || !strings.HasPrefix(string(doc.Content[0].Attachment.Data), "%PDF-") {
		t.Fatalf("DocumentReference: subject %q, %d contents", doc.Subject.Identifier.Value, len(doc.Content))
	}
	wantIn(t, "ITI-105 export event", export, `EventActionCode="C"`, `<EventID csd-code="rest"`,
		`<EventTypeCode csd-code="create" codeSystemName="http://hl7.org/fhir/restful-interaction"`, `csd-code="ITI-105"`,
		`<ParticipantObjectIdentification ParticipantObjectID="`+doc.MasterIdentifier.Value+`" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="20"><ParticipantObjectIDTypeCode csd-code="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"`)
	if strings.Contains(export, `csd-code="Bundle"`) {
		t.Errorf("the ITI-105 export names a Bundle: %s", export)
	}
}

// faxExport runs a gateway whose fax folder, under fax.profile profile
// ("": the default), takes a referral for MRN 48213, and returns the
// exchange and the first Export event its audit repository records.
func faxExport(t *testing.T, profile string) (*fhirrecv.Receiver, string) {
	t.Helper()
	paths, recv, url := testPKI(t)
	repo := newUDPRepo(t)
	root := t.TempDir()
	faxIn := filepath.Join(root, "fax")
	if err := os.MkdirAll(faxIn, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  folders:
    - {name: fax, kind: fax, path: %q, settle: 20ms, rescan: 200ms, patterns: ['^(?P<doctype>[a-z]+)_(?P<mrn>[0-9]+)']}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
fax:
  profile: %q
  source_id: 1.3.6.1.4.1.21367.2026.1
  patient_system: urn:oid:1.3.6.1.4.1.21367.13.20.1000
`, filepath.Join(root, "data"), repo.URL(), faxIn, url, paths.CA, paths.ClientCert, paths.ClientKey, profile)
	runGateway(t, cfg)
	copyFile(t, "../../testdata/fax/g4-fine-1p.tif", filepath.Join(faxIn, "referral_48213.tif"))

	var export string
	for export == "" {
		// ITI-65's is a DICOM Export, ITI-105's BALP's RESTful create.
		if ev := repo.next(); strings.Contains(ev, `csd-code="110106"`) || strings.Contains(ev, `<EventID csd-code="rest"`) {
			export = ev
		}
	}
	return recv, export
}
