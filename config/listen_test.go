package config

import (
	"errors"
	"strings"
	"testing"
)

// TestListenersOnOnePort: two listeners whose addresses differ in spelling
// but not in the socket they bind (a wildcard and a specific address, or
// localhost and 127.0.0.1), or the status page on an MLLP listener's
// address, cannot both bind; config check must say so, naming both, rather
// than pass a file the gateway fails to start with.
func TestListenersOnOnePort(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"wildcard and loopback", "sources:\n  mllp:\n    - listen: 0.0.0.0:2575\n      allow: [10.0.0.0/8]\n    - listen: 127.0.0.1:2575\n",
			"line 5: sources.mllp[1].listen: 127.0.0.1:2575 is already used by sources.mllp[0] (0.0.0.0:2575)"},
		{"empty host and loopback", "sources:\n  mllp:\n    - listen: 127.0.0.1:2575\n    - listen: :2575\n      allow: [10.0.0.0/8]\n",
			"line 4: sources.mllp[1].listen: :2575 is already used by sources.mllp[0] (127.0.0.1:2575)"},
		{"localhost", "sources:\n  mllp:\n    - listen: localhost:2575\n    - listen: 127.0.0.1:2575\n",
			"line 4: sources.mllp[1].listen: 127.0.0.1:2575 is already used by sources.mllp[0] (localhost:2575)"},
		{"status on an mllp port", "sources:\n  mllp:\n    - listen: 127.0.0.1:2575\nstatus:\n  listen: 127.0.0.1:2575\n",
			"line 5: status.listen: 127.0.0.1:2575 is already used by sources.mllp[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("ferry.yaml", []byte(tc.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want a problem %q", err, tc.want)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
	// Different addresses on one port, and port 0, are fine.
	for _, y := range []string{
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\n    - listen: 127.0.0.2:2575\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\n    - listen: '[::1]:2575'\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:0\n    - listen: 127.0.0.1:0\nstatus:\n  listen: 127.0.0.1:0\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\nstatus:\n  listen: 127.0.0.1:8089\n",
	} {
		if _, err := Parse("ferry.yaml", []byte(y)); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}
