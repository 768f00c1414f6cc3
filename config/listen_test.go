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
	// Different addresses on one port, and MLLP port 0 twice, are fine.
	for _, y := range []string{
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\n    - listen: 127.0.0.2:2575\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\n    - listen: '[::1]:2575'\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:0\n    - listen: 127.0.0.1:0\n",
		"sources:\n  mllp:\n    - listen: 127.0.0.1:2575\nstatus:\n  listen: 127.0.0.1:8089\n",
	} {
		if _, err := Parse("ferry.yaml", []byte(y)); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}

// TestStatusListenFixedPort: status.listen with port 0 passed config
// check, and the gateway then served its status page on a port the
// kernel chose, which `ferry status`, `ferry doctor`, `ferry queue` and
// `ferry backup` (they find the running gateway at status.listen) could
// never reach: they read the gateway as not running. A port that is no
// number passed as well and failed only at start. Both are refused now.
func TestStatusListenFixedPort(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:0", `line 2: status.listen: port 0 lets the system pick a port that ferry status, doctor, queue and backup cannot find; give a fixed port such as 127.0.0.1:8089`},
		{"127.0.0.1:http", `line 2: status.listen: port "http" is not a number from 1 to 65535`},
		{"127.0.0.1:70000", `line 2: status.listen: port "70000" is not a number from 1 to 65535`},
	} {
		_, err := Parse("ferry.yaml", []byte("status:\n  listen: "+tc.listen+"\n"))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].String() != tc.want {
			t.Errorf("status.listen %s: %v, want %s", tc.listen, err, tc.want)
		}
	}
}

// TestMLLPPortZeroWarns: an MLLP listener on port 0 passed config check
// and ferry doctor without a word (doctor left it out of its port
// checks), and the gateway then listened on a port the system picks anew
// at every start, which no sender can be pointed at. It is a warning, in
// config check and in the log at every start.
func TestMLLPPortZeroWarns(t *testing.T) {
	c, err := Parse("ferry.yaml", []byte("sources:\n  mllp:\n    - name: lab\n      listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings()
	if len(ws) != 1 || ws[0].Path != "sources.mllp[0].listen" || ws[0].Line != 4 || !strings.Contains(ws[0].Msg, "port 0") {
		t.Fatalf("warnings = %v", ws)
	}
}
