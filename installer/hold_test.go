package installer

import (
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
)

// TestRenderConfigHoldsSensitiveContent: a configuration `ferry init`
// writes for an exchange holds R/V and 42 CFR Part 2 content by default
// (STANDARDS.md §7); without an exchange the commented block shows it.
func TestRenderConfigHoldsSensitiveContent(t *testing.T) {
	b := RenderConfig(Answers{ExchangeURL: "https://hie.example.org/fhir/R4", CertFile: "/etc/ferry/c.pem", KeyFile: "/etc/ferry/c.key"})
	cfg, err := config.Parse("init.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"R", "V", "42CFRPart2"}; !slices.Equal(cfg.Exchange.Hold, want) {
		t.Errorf("exchange.hold = %q, want %q", cfg.Exchange.Hold, want)
	}
	if !strings.Contains(string(b), "ferry held list") {
		t.Error("the hold setting is not explained")
	}
	plain := RenderConfig(ConfigDefaults())
	if !strings.Contains(string(plain), "\n#   hold: [R, V, 42CFRPart2]     # the default; hold: [] sends everything\n") {
		t.Errorf("the outbox-mode template does not suggest exchange.hold:\n%s", plain)
	}
}
