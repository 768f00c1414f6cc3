package ops

import (
	"strings"

	"github.com/ferry-health/ferry/config"
)

// CheckHoldPolicy warns when an exchange is configured and exchange.hold
// is empty: every bundle is then forwarded, restricted (R, V) and 42 CFR
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
		c.Detail = "empty: content labelled restricted (R, V) or 42 CFR Part 2 is sent to the exchange without review; " +
			"add `hold: [R, V, 42CFRPart2]` under exchange: unless the exchange's agreement allows it"
		return []Check{c}
	}
	c.Detail = "bundles labelled " + strings.Join(cfg.Exchange.Hold, ", ") + " are held for review (ferry held list)"
	return []Check{c}
}
