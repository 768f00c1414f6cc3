package main

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/ferry-health/ferry/transport/audit"
)

// nodeAuthFailed returns the hook for connections a listener refused for
// security (an address outside its allow list, a failed TLS handshake):
// each becomes an ATNA Security Alert / Node Authentication event, at
// most one per host a deniedEvery with the count of the refusals in
// between, so that a scanner cannot flood the audit repository. The
// listener logs them itself. nil when audit is off.
func (t *auditTrail) nodeAuthFailed(listener string) func(netip.Addr, string) {
	if t == nil {
		return nil
	}
	var mu sync.Mutex
	type seen struct {
		last   time.Time
		missed int
	}
	hosts := map[netip.Addr]*seen{}
	return func(ip netip.Addr, reason string) {
		now := time.Now()
		mu.Lock()
		s := hosts[ip]
		if s == nil {
			if len(hosts) >= 1024 {
				clear(hosts) // bounded: a flood from many addresses only repeats reports
			}
			s = &seen{}
			hosts[ip] = s
		}
		if !s.last.IsZero() && now.Sub(s.last) < deniedEvery {
			s.missed++
			mu.Unlock()
			return
		}
		missed := s.missed
		s.last, s.missed = now, 0
		mu.Unlock()
		if missed > 0 {
			reason += fmt.Sprintf(" (and %d more refusals from this host in the last %s)", missed, deniedEvery)
		}
		t.rec.Record(audit.NodeAuthFailure(t.gateway, t.host, listener, ip.String(), reason, now))
	}
}
