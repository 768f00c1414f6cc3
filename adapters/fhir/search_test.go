package fhir

import (
	"net/url"
	"strings"
	"testing"
)

// TestIdentifierQuery: the query decodes back to the identifier with FHIR
// search's escapes, and every byte survives.
func TestIdentifierQuery(t *testing.T) {
	var all strings.Builder
	for c := 0; c < 256; c++ {
		all.WriteByte(byte(c))
	}
	esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`)
	cases := []struct{ system, value string }{
		{"urn:oid:2.16.840.1.113883.3.999.1", "MRN100234"},
		{"urn:ferry:site:x:id:clinic", `a|b c\d&e=f+g/h?%20é`},
		{"http://example.org/mrn", "123,456"},
		{"http://example.org/a|b", "$x"},
		{"", ""},
		{all.String(), all.String()},
		{"http://example.org/mrn~x", strings.Repeat("|", 300)},
	}
	for _, c := range cases {
		got := IdentifierQuery(c.system, c.value)
		want := "identifier=" + url.QueryEscape(esc.Replace(c.system)+"|"+esc.Replace(c.value))
		if got != want {
			t.Errorf("%q|%q: %q, want %q", c.system, c.value, got, want)
		}
		q, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if v := q["identifier"]; len(v) != 1 || v[0] != esc.Replace(c.system)+"|"+esc.Replace(c.value) {
			t.Errorf("%q decodes to %q", got, v)
		}
	}
	if got := IdentifierQuery("http://example.org/mrn", "123,456"); got != "identifier=http%3A%2F%2Fexample.org%2Fmrn%7C123%5C%2C456" {
		t.Errorf("comma: %s", got)
	}
}
