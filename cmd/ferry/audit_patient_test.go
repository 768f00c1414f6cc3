package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// auditPatientADT is an ADT^A01 whose patient is MRN-A7 under the
// clinic's assigning authority 2.16.840.1.113883.3.999.1.
const auditPatientADT = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|AUD-1|P|2.5.1\r" +
	"EVN|A01|20261125083000\rPID|1||MRN-A7^^^CLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Quill^Ada||19800101|F\rPV1|1|O\r"

// auditPatientCX is MRN-A7 as the audit message names it: HL7 CX with the
// assigning authority's universal id (DICOM PS3.15 A.5, IHE audit
// message definitions: ParticipantObjectID "the patient ID in HL7 CX
// format").
const auditPatientCX = "MRN-A7^^^&amp;2.16.840.1.113883.3.999.1&amp;ISO"

// patientObject is the start of the DICOM participant object naming the
// patient by identifier: type 1 (person), role 1 (patient), id type
// RFC-3881 2 "Patient Number".
const patientObject = `<ParticipantObjectIdentification ParticipantObjectID="` + auditPatientCX +
	`" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881"`

// auditEvents starts a gateway with data at rest sealed, an MLLP source,
// the exchange up and audit to a UDP repository with patientIdentity
// (empty: the default), sends auditPatientADT and returns its Import and
// Export events.
func auditEvents(t *testing.T, patientIdentity string) (imp, exp string) {
	t.Helper()
	paths, _, url := testPKI(t)
	repo := newUDPRepo(t)
	keyFile := filepath.Join(t.TempDir(), "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	pi := ""
	if patientIdentity != "" {
		pi = ", patient_identity: " + patientIdentity
	}
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry%s}
sources:
  mllp:
    - {name: t, listen: 127.0.0.1:0}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
encryption:
  key_file: %q
`, filepath.Join(t.TempDir(), "data"), repo.URL(), pi, url, paths.CA, paths.ClientCert, paths.ClientKey, keyFile)
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	defer conn.Close()
	if got := send(t, conn, rd, auditPatientADT); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	for imp == "" || exp == "" {
		switch ev := repo.next(); {
		case strings.Contains(ev, `csd-code="110107"`):
			imp = ev
		case strings.Contains(ev, `csd-code="110106"`):
			exp = ev
		}
	}
	return imp, exp
}

// TestAuditNamesPatientIdentifier: the Export of a delivered HL7 v2 ADT
// and the Import of the message name the patient by its identifier, so
// that the audit repository can answer "whose data went where" (an
// accounting of disclosures) without ferry's help, even with data at rest
// sealed (the identifier travels sealed in the queue).
func TestAuditNamesPatientIdentifier(t *testing.T) {
	imp, exp := auditEvents(t, "")
	wantIn(t, "export event", exp, patientObject, `ParticipantObjectDetail type="MSH-10"`)
	wantIn(t, "import event", imp, patientObject)
	for what, ev := range map[string]string{"export": exp, "import": imp} {
		if strings.Contains(ev, "Quill") || strings.Contains(ev, "Ada") {
			t.Errorf("%s event carries the patient's name:\n%s", what, ev)
		}
	}
}

// TestAuditPatientIdentityKey: with audit.patient_identity: key the
// repository gets ferry's keyed hash as before, never the identifier.
func TestAuditPatientIdentityKey(t *testing.T) {
	imp, exp := auditEvents(t, "key")
	for what, ev := range map[string]string{"export": exp, "import": imp} {
		if strings.Contains(ev, "MRN-A7") {
			t.Errorf("%s event names the identifier with patient_identity key:\n%s", what, ev)
		}
	}
	wantIn(t, "export event", exp, `csd-code="patient-key"`)
}

// TestAuditPatientSealedAtRest: with data at rest sealed, the identifier
// the Export event will name is kept with the queue item sealed, and the
// events spooled while the audit repository is unreachable are sealed
// too: no file under data_dir holds the MRN in clear, nor does the log.
func TestAuditPatientSealedAtRest(t *testing.T) {
	paths, _, _ := testPKI(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(t.TempDir(), "ferry.key")
	key, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
audit:
  url: tls://%s
  source_id: clinic-7-ferry
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
sources:
  mllp:
    - {name: t, listen: 127.0.0.1:0}
exchange:
  url: https://%s/fhir
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 1h, max_interval: 1h, unknown_outcome_delay: 1s}
encryption:
  key_file: %q
`, dataDir, freeAddr(t), paths.CA, paths.ClientCert, paths.ClientKey, freeAddr(t), paths.CA, paths.ClientCert, paths.ClientKey, keyFile)
	gw, logs := startLogged(t, cfg)
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, auditPatientADT); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	conn.Close()
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The item keeps its patient sealed; the trail opens it. A stop that
	// cut a delivery attempt short leaves it waiting out
	// unknown_outcome_delay, here 1 s, at the next open: the exchange's
	// port, free when picked, may have been another test's server by
	// then (CI saw Get wait 10 s).
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, errors.New("test: leave it queued"))
	q.Close(ctx)
	if v := it.Attrs[pipeline.AttrPatient]; !strings.HasPrefix(v, sealedPatient) {
		t.Fatalf("queued item's patient attribute %q is not sealed", v)
	}
	trail := &auditTrail{identifiers: true, key: key}
	if got := trail.itemPatient(it); got != (audit.PatientID{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: "MRN-A7"}) {
		t.Errorf("the trail reads the item's patient as %+v", got)
	}
	moved := *it
	moved.Key = "another-patient"
	if got := trail.itemPatient(&moved); got.Value != "" {
		t.Errorf("a sealed identifier moved to another patient's item opens: %+v", got)
	}
	if gw.audit.Stats().Spooled == 0 {
		t.Fatal("no audit event spooled")
	}
	hits, files := filesContaining(t, dataDir, append(withBase64("MRN-A7"), "Quill")...)
	if len(hits) > 0 || files == 0 {
		t.Errorf("in clear under data_dir (%d files): %v", files, hits)
	}
	if strings.Contains(logs.String(), "MRN-A7") {
		t.Errorf("the MRN is in the log:\n%s", logs.String())
	}
}
