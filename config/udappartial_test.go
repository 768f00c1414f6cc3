package config

import (
	"reflect"
	"testing"

	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// TestUDAPWithoutCertificateNamed: an exchange.auth.udap block that sets
// only settings other than cert_file, key_file, trust_anchors, client_id
// and organization_id (the exchange's community, scope and
// purpose_of_use, the operator's contacts, copied from the onboarding
// sheet before the trust community issued the certificate) was taken
// for no UDAP at all, as a SMART block without client_id was
// (TestSMARTWithoutClientNamed): beside a client certificate the
// configuration passed and ferry sent no access token, each delivery
// meeting the exchange's 401; without one, only the client certificate
// was asked for. Any setting in the block now enables UDAP, so what it
// lacks is named.
func TestUDAPWithoutCertificateNamed(t *testing.T) {
	const ex = "exchange:\n  url: https://hie.example.org/fhir/R4\n  tls: {cert_file: c.pem, key_file: c.key}\n  auth:\n    udap: "
	for _, block := range []string{
		"{community: 'urn:oid:2.16.840.1.113883.3.7204.1.1', scope: system/*.rs}",
		"{contacts: ['mailto:it@clinic-12.example.org']}",
		"{purpose_of_use: ['urn:oid:2.16.840.1.113883.5.8#TREAT'], organization_name: Clinic 12}",
		"{revocation: soft-fail}",
		"{client_name: ferry at clinic 12}",
	} {
		for _, want := range []string{"exchange.auth.udap.cert_file", "exchange.auth.udap.key_file", "exchange.auth.udap.trust_anchors", "exchange.auth.udap.organization_id"} {
			expectProblem(t, ex+block+"\n", want)
		}
	}
	expectProblem(t, ex+"{}\n", "")
	expectProblem(t, ex+"{purpose_of_use: []}\n", "")
	// Beside SMART, any UDAP setting is the one too many.
	expectProblem(t, "exchange:\n  url: https://hie.example.org/fhir/R4\n  auth:\n    smart: {client_id: c, key_file: k}\n    udap: {scope: system/*.rs}\n", "smart or udap, not both")
}

// TestUDAPEnabledByEverySetting: each exchange.auth.udap setting alone
// enables UDAP, a field added later included.
func TestUDAPEnabledByEverySetting(t *testing.T) {
	typ := reflect.TypeFor[fhirhttp.UDAPConfig]()
	for i := range typ.NumField() {
		var c fhirhttp.UDAPConfig
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("UDAPConfig.%s: a %s; teach this test to set it", typ.Field(i).Name, f.Kind())
		}
		if !c.Enabled() {
			t.Errorf("UDAPConfig.%s alone does not enable UDAP", typ.Field(i).Name)
		}
	}
}
