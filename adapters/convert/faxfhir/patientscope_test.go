package faxfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
)

// TestSameFaxTwoPatientsKeepsBoth: one fax image linked to two patients
// (the same form, byte for byte, faxed for two of them: the fax
// system's metadata names the patient). The DocumentReference is created
// only when none has its masterIdentifier (ifNoneExist), so two patients'
// documents under one masterIdentifier leave the second patient's
// document unfiled: the exchange answers that it holds it already, as the
// first patient's. The same fax dropped again for the same patient keeps
// its identifiers (TestIdempotentIDs).
func TestSameFaxTwoPatientsKeepsBoth(t *testing.T) {
	a := testFax()
	b := testFax()
	b.MRN, b.PatientName = "MRN-0043", "OTHER PATIENT"
	ba := convert(t, testConfig(), rawFor(t, "g4-fine-1p.tif", a))
	bb := convert(t, testConfig(), rawFor(t, "g4-fine-1p.tif", b))
	ia, ib := pinnedIDs(ba), pinnedIDs(bb)
	if len(ia) != len(ib) {
		t.Fatalf("%d and %d ids", len(ia), len(ib))
	}
	for i := range ia {
		if ia[i] == ib[i] {
			t.Errorf("both patients' faxes have %s", ia[i])
		}
	}
}

// TestSameDocumentTwoPatientsKeepsBoth: the same for a Document without a
// MasterIdentifier (an XDM entry without a usable uniqueId): two
// patients' packages carrying the same bytes.
func TestSameDocumentTwoPatientsKeepsBoth(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	ids := func(mrn string) []string {
		var w bytes.Buffer
		d := Document{Name: "x.pdf", Patient: &Patient{System: testConfig().PatientSystem, Value: mrn},
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}
		if _, err := c.WriteDocument(context.Background(), &w, d); err != nil {
			t.Fatal(err)
		}
		var b map[string]any
		if err := json.Unmarshal(w.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		return pinnedIDs(b)
	}
	ia, ib := ids("MRN-0042"), ids("MRN-0043")
	for i := range ia {
		if i < len(ib) && ia[i] == ib[i] {
			t.Errorf("both patients' documents have %s", ia[i])
		}
	}
}
