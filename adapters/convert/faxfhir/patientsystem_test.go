package faxfhir

import (
	"strings"
	"testing"
)

// TestConfigPatientSystemIsAURI: fax.patient_system is the system the
// MRNs of faxes are written under, matched exactly by the exchange
// (ifNoneExist identifier=<system>|<MRN>) against the system the ADT
// feed gives the MRN. A bare OID (as fax.source_id, beside it, may be
// written), a value with spaces round it or no URI at all was taken as
// written: every fax that names a patient then created (patient_link
// match) or named a second patient under a system no other input
// carries, and ferry config check said ok. It is refused, naming the
// field, as a CSV mapping's system already is; a URI passes.
func TestConfigPatientSystemIsAURI(t *testing.T) {
	for _, tc := range []struct{ system, want string }{
		{"2.16.840.1.113883.3.999.1", "write it as urn:oid:2.16.840.1.113883.3.999.1"},
		{" urn:oid:2.16.840.1.113883.3.999.1", "absolute URI"},
		{"MRN", "absolute URI"},
		{"urn:oid:2.16.840.1.113883.3.999.1|x", "absolute URI"},
		{"urn:oid:2.16.840.1.113883.3.999.1", ""},
		{"https://clinic.example/mrn", ""},
		{"", ""},
	} {
		cfg := testConfig()
		cfg.PatientSystem = tc.system
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("patient_system %q: %v", tc.system, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "patient_system") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("patient_system %q: %v, want an error naming patient_system saying %q", tc.system, err, tc.want)
		}
	}
}
