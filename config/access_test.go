package config

import (
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
)

func TestParseAllow(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3":         "10.1.2.3/32",
		" 10.1.2.0/24 ":    "10.1.2.0/24",
		"10.1.2.3/24":      "10.1.2.0/24", // host bits ignored
		"fd00::1":          "fd00::1/128",
		"2001:db8::/32":    "2001:db8::/32",
		"::ffff:10.0.0.1":  "::ffff:10.0.0.1/128",
		"0.0.0.0/0":        "0.0.0.0/0",
		"10.1.2.0/255":     "",
		"10.1.2":           "",
		"fe80::1%eth0":     "",
		"fe80::1%eth0/64":  "",
		"clinic-pc":        "",
		"":                 "",
		"10.1.2.0/24,10.2": "",
	} {
		p, err := ParseAllow(in)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q: accepted as %s", in, p)
		case want != "" && (err != nil || p.String() != want):
			t.Errorf("%q: %s, %v; want %s", in, p, err, want)
		}
	}
}

// TestOpenListener: which listeners draw the warning.
func TestOpenListener(t *testing.T) {
	mtls := &configtls.ServerConfig{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}
	tlsOnly := &configtls.ServerConfig{CertFile: "c", KeyFile: "k"}
	for _, tc := range []struct {
		m    MLLP
		open bool
	}{
		{MLLP{Listen: "0.0.0.0:2575"}, true},
		{MLLP{Listen: ":2575"}, true},
		{MLLP{Listen: "[::]:2575"}, true},
		{MLLP{Listen: "192.168.1.10:2575"}, true},
		{MLLP{Listen: "clinic-gw.local:2575"}, true}, // names are not resolved
		{MLLP{Listen: "0.0.0.0:2575", TLS: tlsOnly}, true},
		{MLLP{Listen: "0.0.0.0:2575", Allow: []string{"::/0"}}, true},
		{MLLP{Listen: "127.0.0.1:2575"}, false},
		{MLLP{Listen: "127.8.9.1:2575"}, false},
		{MLLP{Listen: "[::1]:2575"}, false},
		{MLLP{Listen: "localhost:2575"}, false},
		{MLLP{Listen: "0.0.0.0:2575", Allow: []string{"10.0.0.0/8"}}, false},
		{MLLP{Listen: "0.0.0.0:2575", TLS: mtls}, false},
	} {
		if got := tc.m.Open(); got != tc.open {
			t.Errorf("%+v: Open = %v, want %v", tc.m, got, tc.open)
		}
	}
}

// TestWarningsAfterChange: Warnings works on a configuration built or
// changed in code too (no lines then), and never turns into an error.
func TestWarningsAfterChange(t *testing.T) {
	c := Default()
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("default config warns: %v", w)
	}
	c.Sources.MLLP[0].Listen = "0.0.0.0:2575"
	w := c.Warnings()
	if len(w) != 1 || w[0].Path != "sources.mllp[0].listen" {
		t.Fatalf("warnings = %v", w)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a warning became an error: %v", err)
	}
}
