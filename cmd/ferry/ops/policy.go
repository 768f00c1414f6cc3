package ops

import (
	"strings"

	"github.com/ferry-health/ferry/config"
)

// CheckHoldPolicy warns when an exchange is configured and exchange.hold
// was set empty (left out, it is config.DefaultHold): every bundle is then forwarded, restricted (R, V) and 42 CFR
// Part 2 content included, although holding it is a gateway duty
// (STANDARDS.md §7, DS4P). Without an exchange nothing leaves the machine
// (the outbox), so there is nothing to say.
func CheckHoldPolicy(cfg *config.Config) []Check {
	if cfg.Exchange.URL == "" {
		return nil
	}
	c := Check{Area: "policy", Name: "exchange.hold"}
	if len(cfg.Exchange.Hold) == 0 {
		c.Level = Warn
		c.Detail = "hold: [] forwards everything: content labelled restricted (R, V) or 42 CFR Part 2 is sent to the exchange without review; " +
			"remove the line (the default holds R, V and 42CFRPart2) unless the exchange's agreement allows it"
		return []Check{c}
	}
	c.Detail = "bundles labelled " + strings.Join(cfg.Exchange.Hold, ", ") + " are held for review (ferry held list)"
	return []Check{c}
}
