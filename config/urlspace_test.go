package config

import "testing"

// TestURLWithWhiteSpace: exchange.url and audit.url quoted with a blank
// pasted at their end ("https://hie.example.org/fhir/R4 ", from an
// onboarding e-mail) passed ferry config check, whose ok line shows the
// blank no more than the file does; ferry then sent every bundle to
// /fhir/R4%20, and the status page said the exchange answered 404 and
// "exchange.url is probably not the FHIR base", the URL it shows looking
// right. One with a blank at its start got "first path segment in URL
// cannot contain colon", and a tab "invalid control character", neither
// saying what is wrong. A URL has no white space (RFC 3986's grammar has
// none; Appendix C: "The whitespace should be ignored when the URI is
// extracted"): each is refused saying so.
func TestURLWithWhiteSpace(t *testing.T) {
	const tls = "  tls: {cert_file: /c.pem, key_file: /c.key}\n"
	for _, tc := range []struct{ yml, want string }{
		{"exchange:\n  url: \"https://hie.example.org/fhir/R4\"\n" + tls, ""},
		{"exchange:\n  url: \"https://hie.example.org/fhir/R4 \"\n" + tls, "exchange.url: holds white space"},
		{"exchange:\n  url: \" https://hie.example.org/fhir/R4\"\n" + tls, "exchange.url: holds white space"},
		{"exchange:\n  url: \"https://hie.example.org/fhir/R4\\t\"\n" + tls, "exchange.url: holds white space"},
		{"exchange:\n  url: \"mllps://hie.example.org:2575 \"\n" + tls, "exchange.url: holds white space"},
		{"audit:\n  url: \"https://audit.example.org/fhir \"\n  source_id: x\n" + tls, "audit.url: holds white space"},
		{"audit:\n  url: \"https://audit.example.org/fhir\"\n  source_id: x\n" + tls, ""},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}
