package config

import "testing"

// TestExchangeURLPort: an exchange.url whose port is no TCP port (a digit
// too many, https://hie.example.org:84433/fhir, or :0) passed ferry config
// check, which said "ok" and named the URL, though every delivery then
// failed to dial ("dial tcp: address 84433: invalid port") and was
// retried without end, an outage of the exchange's own making as far as
// the status page could tell. It is refused, as audit.url's and an sftp://
// exchange's are, for https:// and mllps:// alike.
func TestExchangeURLPort(t *testing.T) {
	const tls = "  tls: {cert_file: /c.pem, key_file: /c.key}\n"
	for _, tc := range []struct{ url, want string }{
		{"https://hie.example.org:8443/fhir/R4", ""},
		{"https://hie.example.org/fhir/R4", ""},
		{"mllps://hie.example.org:2575", ""},
		{"https://hie.example.org:84433/fhir/R4", "exchange.url: port"},
		{"https://hie.example.org:0/fhir/R4", "exchange.url: port"},
		{"https://[2001:db8::1]:65536/fhir/R4", "exchange.url: port"},
		{"mllps://hie.example.org:257500", "exchange.url: port"},
		{"mllps://hie.example.org:0", "exchange.url: port"},
	} {
		expectProblem(t, "exchange:\n  url: "+tc.url+"\n"+tls, tc.want)
	}
}
