package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/diskq"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// TestItemPatientAfterKeyRotation: an identifier sealed into a queue item
// before a key rotation still opens with the old key kept as a previous
// key, so the Export of its delivery names the patient; an item queued
// before the release (no attribute) and audit.patient_identity key name
// no identifier.
func TestItemPatientAfterKeyRotation(t *testing.T) {
	oldKey, _ := seal.NewKey(bytes.Repeat([]byte{1}, 32))
	newKey, _ := seal.NewKey(bytes.Repeat([]byte{2}, 32))
	id := fhir.Identifier{System: "urn:oid:1.2.3", Value: "MRN^&~\\|7"}
	it := &queue.Item{Key: "pk-1", Attrs: map[string]string{pipeline.AttrPatient: patientAttr(oldKey)("pk-1", id)}}
	trail := &auditTrail{identifiers: true, key: newKey.WithPrevious(oldKey)}
	if got := trail.itemPatient(it); got != (audit.PatientID{System: id.System, Value: id.Value}) {
		t.Errorf("after rotation: %+v", got)
	}
	if got := (&auditTrail{identifiers: false, key: oldKey}).itemPatient(it); got.Value != "" {
		t.Errorf("patient_identity key: %+v", got)
	}
	if got := trail.itemPatient(&queue.Item{Key: "pk-1"}); got.Value != "" {
		t.Errorf("item without the attribute: %+v", got)
	}
}

// TestRetriedPatientAfterKeyRotation: a dead letter queued before a key
// rotation and retried after it goes back with its body sealed with the
// new key (Put seals it anew), and so must its patient identifier be:
// doctor counts an item by its body's key, so it called the old key
// removable while the identifier still needed it, and once the operator
// removed it, the Export event of the delivery named the patient by key
// instead of by identifier. A held entry released after the rotation is
// the same.
func TestRetriedPatientAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey, cfgPath, cfg := rotatedKeys(t, dir)
	id := fhir.Identifier{System: "urn:oid:1.2.3", Value: "MRN-4471"}
	ctx := context.Background()

	// Before the rotation: one dead letter, one held entry.
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: oldKey, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle","id":"dead"}`),
		Attrs: map[string]string{pipeline.AttrPatient: patientAttr(oldKey)("p1", id)}}); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("refused"))); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	held.SetKey(oldKey)
	heID, err := held.Put(adapters.Raw{Source: "test", Format: "hl7v2", Received: time.Now()},
		&pipeline.Unit{Key: "p2", Bundle: []byte(`{"resourceType":"Bundle","id":"held"}`),
			Attrs: map[string]string{pipeline.AttrPatient: patientAttr(oldKey)("p2", id)}}, "R")
	if err != nil {
		t.Fatal(err)
	}

	// After it: retried and released, as the operator does.
	var stdout, stderr bytes.Buffer
	if err := queueOp(ctx, cfg, "retry", []string{it.ID}, false, true, &stdout, &stderr); err != nil {
		t.Fatalf("queue retry: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	// Held with no queue counting its patient's later deliveries, as by
	// an earlier release: not known, so --force, as for the retry.
	if err := cmdHeld(ctx, []string{"release", "--force", "--config", cfgPath, heID}, &stdout, &stderr); err != nil {
		t.Fatalf("held release: %v\n%s%s", err, stdout.String(), stderr.String())
	}

	removable := false
	for _, c := range ops.CheckEncryption(cfg) {
		if strings.Contains(c.Detail, "previous key "+oldKey.ID()) {
			removable = strings.Contains(c.Detail, "can be removed")
			t.Logf("doctor: %s", c.Detail)
		}
	}
	if !removable {
		t.Errorf("doctor does not call the old key removable once nothing it sealed waits")
	}
	// An identifier kept in clear (queued before encryption was turned
	// on) is sealed too when its item is stored anew.
	clear := map[string]string{pipeline.AttrPatient: patientAttr(nil)("p3", id)}
	if v := resealPatient(newKey, "p3", clear)[pipeline.AttrPatient]; !strings.HasPrefix(v, sealedPatient) ||
		(&auditTrail{identifiers: true, key: newKey}).itemPatient(&queue.Item{Key: "p3", Attrs: map[string]string{pipeline.AttrPatient: v}}).Value != id.Value {
		t.Errorf("identifier in clear stored anew as %q", v)
	}
	// The operator removes the old key when doctor says so.
	trail := &auditTrail{identifiers: true, key: newKey}
	if removable {
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: newKey, DeadLetterDir: ops.DeadLetterDir(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(ctx)
		for n := q.Len(); n > 0; n-- {
			got, ack, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p := trail.itemPatient(got); p != (audit.PatientID{System: id.System, Value: id.Value}) {
				t.Errorf("item %s (%s): doctor calls the old key removable, but without it its Export names the patient %+v", got.ID, got.Body, p)
			}
			ack(ctx, nil)
		}
	}
}

// TestDeadLetteredPatientAfterKeyRotation: an item queued before a key
// rotation and dead-lettered after it is kept in a dead letter sealed
// with the new key, its patient identifier still sealed with the old one
// inside. Doctor counted the dead letter for the new key only and called
// the old one removable; removed, the identifier no longer opened, and the
// Export of the dead letter's delivery, once retried, named the patient
// by key.
func TestDeadLetteredPatientAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey, _, cfg := rotatedKeys(t, dir)
	id := fhir.Identifier{System: "urn:oid:1.2.3", Value: "MRN-4471"}
	ctx := context.Background()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: oldKey, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle","id":"late"}`),
		Attrs: map[string]string{pipeline.AttrPatient: patientAttr(oldKey)("p1", id)}}); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	// The rotation; the exchange refuses the item afterwards.
	key, err := cfg.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	q, err = diskq.Open(cfg.Path("queue"), diskq.Options{Key: key, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("refused"))); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)

	removable := false
	for _, c := range ops.CheckEncryption(cfg) {
		if strings.Contains(c.Detail, "previous key "+oldKey.ID()) {
			removable = strings.Contains(c.Detail, "can be removed")
			if !removable && !strings.Contains(c.Detail, "still opens 1 dead letter;") {
				t.Errorf("doctor: %s", c.Detail)
			}
		}
	}
	if !removable {
		return // doctor keeps the old key while the identifier needs it
	}
	// The operator removes the old key, then retries the dead letter.
	q, err = diskq.Open(cfg.Path("queue"), diskq.Options{Key: newKey, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	q.SetRetryEdit(resealingRetry(newKey, func(*queue.Item) error { return nil }))
	if err := q.Retry(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	got, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ack(ctx, nil)
	if p := (&auditTrail{identifiers: true, key: newKey}).itemPatient(got); p.Value != id.Value {
		t.Errorf("doctor called the old key removable, but without it the Export names the patient %+v", p)
	}
}

// rotatedKeys makes old.key and new.key in dir and a configuration whose
// key_file is the new one and whose previous_key_files names the old:
// a data-at-rest key rotated. It returns both keys and the configuration.
func rotatedKeys(t *testing.T, dir string) (oldKey, newKey *seal.Key, cfgPath string, cfg *config.Config) {
	t.Helper()
	var err error
	if oldKey, err = seal.GenerateKeyFile(filepath.Join(dir, "old.key")); err != nil {
		t.Fatal(err)
	}
	if newKey, err = seal.GenerateKeyFile(filepath.Join(dir, "new.key")); err != nil {
		t.Fatal(err)
	}
	cfgPath, cfg = backfillCfg(t, dir, fmt.Sprintf("encryption:\n  key_file: %q\n  previous_key_files: [%q]\n", filepath.Join(dir, "new.key"), filepath.Join(dir, "old.key")))
	return oldKey, newKey, cfgPath, cfg
}
