package config

import (
	"errors"
	"strings"
	"testing"
)

// TestIndentationErrorLine: a line indented one space too few or too many
// is the commonest hand edit gone wrong, and yaml.v3 names the line where
// the block around it began (or the one before that), not the line that is
// wrong: "line 2: did not find expected key" for a key on line 6 sends the
// contractor to a line that is fine. The problem must name the wrong line
// and say to check its indentation.
func TestIndentationErrorLine(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		line int
		msg  string
	}{
		{"data_dir: /tmp/x\nsources:\n  mllp:\n  - name: lab\n    listen: 127.0.0.1:2575\n   allow: [10.0.0.0/8]\n", 6, "indentation"},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n    - name: lab\n    listen: 127.0.0.1:2575\nstatus:\n  listen: 127.0.0.1:8089\n", 5, "indentation"},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n    - name: lab\n      listen: 127.0.0.1:2575\n      allow: [10.0.0.0/8]\n      read_timeout: 30s\n     max_connections: 4\n", 8, "indentation"},
		{"data_dir: /tmp/x\nexchange:\n  url: https://a.example/fhir\n  tls:\n    ca_file: /a\n    cert_file: /b\n   key_file: /c\n\n# end\n", 7, "indentation"},
		{"data_dir: /tmp/x\nexchange:\n  url: https://a.example/fhir\n  tls:\n    ca_file: /a\n    cert_file: /b\n      key_file: /c\n", 7, "indentation"},
		// An unclosed flow mapping: the line that opens it.
		{"data_dir: /tmp/x\nexchange:\n  url: https://a.example/fhir\n  tls: {ca_file: /a, cert_file: /b\n  hold: [R]\n", 4, "expected ',' or '}'"},
		{"data_dir: /tmp/x\nexchange:\n  url: \"https://a.example/fhir\n  hold: [R]\n", 3, "end of stream"},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: Parse = %v, want one problem", tc.yaml, err)
			continue
		}
		if p := ce.Problems[0]; p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
			t.Errorf("%q: problem %q, want line %d with %q", tc.yaml, p, tc.line, tc.msg)
		}
	}
}
