package faxfhir

import (
	"bytes"
	"context"
	"net/url"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestExchangeRetiredMRNFaxToSurvivor: at the stand-in exchange (Medplum)
// the survivor MRN-0001 and the record an A40 retired, MRN-0042
// (inactive), are stored. A fax whose sidecar still names MRN-0042, with
// the default patient_link match, sent twice, is filed to the survivor:
// the exchange is asked for MRN-0001, no Patient is created or
// rewritten, nothing is filed to the retired record.
func TestExchangeRetiredMRNFaxToSurvivor(t *testing.T) {
	ex := standin.Start(t)
	surv := str(ex.Do(t, "POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"`+testSystem+`","value":"MRN-0001"}],"name":[{"family":"Survivor"}]}`)), "id")
	retired := str(ex.Do(t, "POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","active":false,"identifier":[{"system":"`+testSystem+`","value":"MRN-0042"}],"name":[{"family":"Retired"}]}`)), "id")
	cfg := testConfig()
	cfg.PatientConditionalRef = false
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Merges = retiredRegistry(t)
	var body bytes.Buffer
	if _, err := c.WriteRaw(context.Background(), &body, rawFor(t, "g4-fine-1p.tif", testFax())); err != nil {
		t.Fatal(err)
	}
	ex.Do(t, "POST", ex.URL, body.Bytes())
	ex.Do(t, "POST", ex.URL, body.Bytes())
	if n := ex.Count(t, "Patient"); n != 2 {
		t.Errorf("%d Patients stored, want the survivor and the retired record only", n)
	}
	docs := func(patient string) int {
		e, _ := ex.Do(t, "GET", ex.URL+"/DocumentReference?subject="+url.QueryEscape("Patient/"+patient), nil)["entry"].([]any)
		return len(e)
	}
	if n := docs(surv); n == 0 {
		t.Error("no DocumentReference filed to the survivor")
	}
	if n := docs(retired); n != 0 {
		t.Errorf("%d DocumentReferences filed to the retired record", n)
	}
	if p := ex.Do(t, "GET", ex.URL+"/Patient/"+retired, nil); p["active"] != false {
		t.Errorf("the retired record is active again: %v", p)
	}
}
