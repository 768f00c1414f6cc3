package config

import "testing"

// TestSMARTWithoutClientNamed: an exchange.auth.smart block that sets
// only some of its settings, not client_id or key_file (token_url and
// scope copied from the exchange's onboarding sheet, the two others
// still to come), was taken for no SMART at all: the configuration
// passed, ferry sent no access token, and every delivery met the
// exchange's 401 with "ferry sends one only with exchange.auth.smart
// set", which was set. Any setting in the block now enables it, so the
// missing client_id and key_file are named.
func TestSMARTWithoutClientNamed(t *testing.T) {
	const ex = "exchange:\n  url: https://hie.example.org/fhir/R4\n  tls: {cert_file: c.pem, key_file: c.key}\n  auth:\n    smart: "
	for _, block := range []string{
		"{token_url: https://auth.example.org/token, scope: system/*.rs}",
		"{jwks_url: https://clinic.example.org/jwks.json}",
		"{key_id: ferry-2027}",
	} {
		expectProblem(t, ex+block+"\n", "exchange.auth.smart.client_id")
		expectProblem(t, ex+block+"\n", "exchange.auth.smart.key_file")
	}
	expectProblem(t, ex+"{}\n", "")
}
