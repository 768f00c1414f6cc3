package faxfhir

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestExchangeAcceptsBundleOnce posts fax bundles to the Medplum stand-in
// exchange (.ci/exchange, over mutual TLS) twice each and checks that the
// second post changes nothing, that the in-bundle references
// (attachment.url, List entries, relatesTo) were rewritten to the created
// resources, and that the documents' subject is the Patient the exchange
// already held with the fax's MRN (patient_link: match). Skipped when node or the exchange's node_modules are missing.
func TestExchangeAcceptsBundleOnce(t *testing.T) {
	ex := standin.Start(t)
	do := func(method, url string, body []byte) map[string]any {
		t.Helper()
		return ex.Do(t, method, url, body)
	}
	count := func(typ string) int { return ex.Count(t, typ) }

	// The fax's patient is already at the exchange under an id it chose:
	// the default patient link (match) must land the documents on it.
	pre := do("POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"MRN-0042"}],"name":[{"family":"Known"}]}`))
	preRef := "Patient/" + str(pre, "id")
	for _, tc := range []struct{ profile, binary string }{
		{ProfileMHDMinimal, ""}, // POST Binary, as ITI-65 prescribes
		{ProfileMHDMinimal, BinaryPut},
		{ProfileUSCore, ""}, // PUT Binary
	} {
		profile := tc.profile + "/" + tc.binary
		cfg := testConfig()
		cfg.Profile, cfg.BinaryMethod = tc.profile, tc.binary
		cfg.PatientConditionalRef = false
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawFor(t, "hylafax/recvq/fax000000042.tif", testFax())
		var body bytes.Buffer
		if _, err := c.WriteRaw(context.Background(), &body, raw); err != nil {
			t.Fatal(err)
		}
		first := do("POST", ex.URL, body.Bytes())
		docs, bins, lists := count("DocumentReference"), count("Binary"), count("List")
		second := do("POST", ex.URL, body.Bytes())
		// A re-sent bundle creates no document and no SubmissionSet. With
		// POST Binaries (MHD's rule) it leaves orphan Binary copies, which
		// nothing refers to; with PUT it creates nothing at all.
		if count("DocumentReference") != docs || count("List") != lists {
			t.Errorf("%s: second post created documents or lists", profile)
		}
		if put := tc.binary == BinaryPut || tc.profile == ProfileUSCore; put && count("Binary") != bins {
			t.Errorf("%s: second post created Binaries", profile)
		}
		if n := count("Patient"); n != 1 {
			t.Errorf("%s: %v Patients at the exchange, want only the one it held", profile, n)
		}
		for i := range get(first, "entry").([]any) {
			loc := str(first, "entry", i, "response", "location")
			if !strings.HasPrefix(loc, "DocumentReference/") && !strings.HasPrefix(loc, "List/") {
				continue
			}
			if got := str(do("GET", ex.URL+"/"+loc, nil), "subject", "reference"); got != preRef {
				t.Errorf("%s: %s subject %q, want the exchange's own %s", profile, loc, got, preRef)
			}
		}
		for i := range get(first, "entry").([]any) {
			l1, l2 := str(first, "entry", i, "response", "location"), str(second, "entry", i, "response", "location")
			if l1 != l2 && !(strings.HasPrefix(l1, "Binary/") && tc.binary == "" && tc.profile != ProfileUSCore) {
				t.Errorf("%s: entry %d location %s then %s", profile, i, l1, l2)
			}
		}
		// The DocumentReference's attachment points at the stored Binary.
		for i := range get(first, "entry").([]any) {
			loc := str(first, "entry", i, "response", "location")
			if len(loc) < 18 || loc[:18] != "DocumentReference/" {
				continue
			}
			d := do("GET", ex.URL+"/"+loc, nil)
			url := str(d, "content", 0, "attachment", "url")
			if len(url) < 7 || url[:7] != "Binary/" {
				t.Errorf("%s: attachment.url %q not rewritten", profile, url)
			}
		}
	}

	// A patient the exchange does not hold yet is created once, from what
	// the fax says, and a re-sent fax finds it.
	f := testFax()
	f.MRN = "MRN-NEW-7"
	cfg := testConfig()
	cfg.PatientConditionalRef = false // the default link: match
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if _, err := c.WriteRaw(context.Background(), &body, rawFor(t, "g4-fine-1p.tif", f)); err != nil {
		t.Fatal(err)
	}
	do("POST", ex.URL, body.Bytes())
	do("POST", ex.URL, body.Bytes())
	if n := count("Patient"); n != 2 {
		t.Errorf("%v Patients after a fax for a new MRN, sent twice; want 2", n)
	}

	// An MRN with a ',' in it finds that one patient (the ',' escaped as
	// FHIR search asks), not the patient whose MRN is the part after it,
	// which an unescaped ',' would make the search an "or" for.
	odd := do("POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"MRN,9"}],"name":[{"family":"Comma"}]}`))
	do("POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"9"}],"name":[{"family":"Decoy"}]}`))
	f.MRN = "MRN,9"
	body.Reset()
	if _, err := c.WriteRaw(context.Background(), &body, rawFor(t, "g4-strips-1p.tif", f)); err != nil {
		t.Fatal(err)
	}
	resp := do("POST", ex.URL, body.Bytes())
	for i := range get(resp, "entry").([]any) {
		loc := str(resp, "entry", i, "response", "location")
		if !strings.HasPrefix(loc, "DocumentReference/") {
			continue
		}
		if got := str(do("GET", ex.URL+"/"+loc, nil), "subject", "reference"); got != "Patient/"+str(odd, "id") {
			t.Errorf("MRN with a comma: %s subject %q, want Patient/%s", loc, got, str(odd, "id"))
		}
	}
	if n := count("Patient"); n != 4 {
		t.Errorf("%v Patients after a fax for MRN,9; want 4 (none created)", n)
	}
}
