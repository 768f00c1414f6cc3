package config

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeProblemNamesItsField: an unknown key or a mistyped value in a
// flow mapping (the README's `- {name: ehr, kind: ehr, path: ...}` style)
// must be reported at its own key, not at the first key of its line; and a
// list written as a mapping at the list's key, not at the mapping's first
// key.
func TestDecodeProblemNamesItsField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"data_dir: /tmp/x\nsources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/exports, settle: 5}\n",
			"line 4: sources.folders[0].settle: cannot unmarshal !!int `5` into duration (like 30s)"},
		{"data_dir: /tmp/x\nsources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/exports, bogus: 5}\n",
			`line 4: sources.folders[0].bogus: unknown key "bogus"`},
		{"data_dir: /tmp/x\nexchange:\n  retry: {initial_interval: 1s, max_interval: 5m, max_age: 72}\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n",
			"line 3: exchange.retry.max_age: cannot unmarshal !!int `72` into duration (like 30s)"},
		{"data_dir: /tmp/x\nlog: {level: info, phi: maybe}\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n",
			"line 2: log.phi: cannot unmarshal !!str `maybe` into bool"},
		{"data_dir: /tmp/x\nsources:\n  folders:\n    - {name: ehr, path: /srv/exports, settle: 2s, rescan: 300000000000000}\n",
			"line 4: sources.folders[0].rescan: cannot unmarshal !!int `3000000...` into duration (like 30s)"},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n    listen: 127.0.0.1:2575\n",
			"line 4: sources.mllp: cannot unmarshal !!map into []config.MLLP"},
		// Block style keeps working.
		{"data_dir: /tmp/x\nlog:\n  level: info\n  phi: maybe\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n",
			"line 4: log.phi: cannot unmarshal !!str `maybe` into bool"},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: Parse = %v, want a problem", tc.yaml, err)
			continue
		}
		var got []string
		for _, p := range ce.Problems {
			got = append(got, p.String())
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: problems\n%s\nwant\n%s", tc.yaml, strings.Join(got, "\n"), tc.want)
		}
	}
}
