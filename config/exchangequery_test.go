package config

import "testing"

// TestExchangeURLQuery: exchange.url is the FHIR base, to which ferry
// adds /DocumentReference for a create (IHE ITI-105) and
// /.well-known/smart-configuration or /.well-known/udap for discovery;
// with a query (?_format=json, ?tenant=...) those went out as part of
// the query, a create reaching the base as if it were a transaction and
// dead-lettered for it. The check refuses it, as the gateway does at
// start (fhirhttp).
func TestExchangeURLQuery(t *testing.T) {
	const tls = "  tls: {cert_file: /c.pem, key_file: /c.key}\n"
	for _, tc := range []struct{ yml, want string }{
		{"exchange:\n  url: https://hie.example.org/fhir/R4\n" + tls, ""},
		{"exchange:\n  url: https://hie.example.org/fhir/R4?_format=json\n" + tls, "exchange.url: has a query"},
		{"exchange:\n  url: https://hie.example.org/fhir/R4#top\n" + tls, "exchange.url: has a fragment"},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}
