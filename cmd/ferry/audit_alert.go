package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/transport/audit"
)

// nodeAuthFailed returns the hook for connections a listener refused for
// security (an address outside its allow list, a failed TLS handshake):
// each becomes an ATNA Security Alert / Node Authentication event, at
// most one per host a deniedEvery with the count of the refusals in
// between, so that a scanner cannot flood the audit repository. The
// listener logs them itself. nil when audit is off. listener is the
// source's name ("mllp/main"), scheme and listen its URI scheme (mllp,
// mllps) and the address it listens on, which name it as the alert
// subject.
func (t *auditTrail) nodeAuthFailed(listener, scheme string, listen func() string) func(netip.Addr, string) {
	if t == nil {
		return nil
	}
	limit := newPerHost[netip.Addr]()
	return func(ip netip.Addr, reason string) {
		now := time.Now()
		ok, missed := limit.allow(ip, now)
		if !ok {
			return
		}
		if missed > 0 {
			reason += fmt.Sprintf(" (and %d more refusals from this host in the last %s)", missed, deniedEvery)
		}
		uri := listenerURI(scheme, listen(), t.host)
		t.rec.Record(audit.NodeAuthFailure(t.gateway, t.host, listener, uri, ip.String(), reason, now))
	}
}

// listenerURI names a listener by its URI, scheme://host:port, for the
// alert subject of a Security Alert (DICOM PS3.15 A.5.3.11 types one URI
// or Node ID): a listen address without a host, or with an unspecified
// one (0.0.0.0, ::), is this machine, named host.
func listenerURI(scheme, listen, host string) string {
	h, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + "://" + host
	}
	if a, err := netip.ParseAddr(h); h == "" || err == nil && a.IsUnspecified() {
		h = host
	}
	return scheme + "://" + net.JoinHostPort(h, port)
}

// remoteAuthFailed returns the hook for ferry's own connections that
// failed node authentication (exchange.tls: the exchange's certificate,
// or that of its token endpoint, discovery or an https proxy, did not
// verify, or the server refused ferry's client certificate): each
// becomes an ATNA Security Alert / Node Authentication event naming that
// node as the destination, at most one per node a deniedEvery with the
// count of the failures in between, since the dispatcher retries a
// failing exchange every few seconds. Network errors (refused, reset,
// timeout) never reach it. The dispatcher logs the TLS problem itself.
// nil when audit is off; the trail is read when the hook runs, so it may
// be made before g.audit is.
//
// The audit repository's own connection has no such hook: a failure
// there cannot be recorded at that repository. Its events are spooled
// and the sink logs the repository as unreachable; events lost from a
// full spool are reported (Audit Recording Stopped) once it is back.
func (g *gateway) remoteAuthFailed() func(string, *configtls.HandshakeError) {
	if !g.cfg.Audit.Enabled() {
		return nil
	}
	limit := newPerHost[string]()
	return func(remote string, hs *configtls.HandshakeError) {
		t := g.audit
		if t == nil {
			return
		}
		now := time.Now()
		ok, missed := limit.allow(remote, now)
		if !ok {
			return
		}
		reason := hs.Error()
		if missed > 0 {
			reason += fmt.Sprintf(" (and %d more failures with this node in the last %s)", missed, deniedEvery)
		}
		host := remote
		if u, err := url.Parse(remote); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		t.rec.Record(audit.RemoteAuthFailure(t.gateway, t.host, remote, host, reason, now))
	}
}

// perHost lets one report a deniedEvery through for each host and counts
// the ones it holds back, so that the next report can say how many there
// were. It keeps at most 1024 hosts: a flood from many addresses only
// repeats reports.
type perHost[K comparable] struct {
	mu    sync.Mutex
	hosts map[K]*hostReports
}

type hostReports struct {
	last   time.Time
	missed int
}

func newPerHost[K comparable]() *perHost[K] { return &perHost[K]{hosts: map[K]*hostReports{}} }

// allow reports whether k's refusal at now is reported, and how many of
// k's refusals were held back since its last report.
func (l *perHost[K]) allow(k K, now time.Time) (ok bool, missed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.hosts[k]
	if s == nil {
		if len(l.hosts) >= 1024 {
			clear(l.hosts)
		}
		s = &hostReports{}
		l.hosts[k] = s
	}
	if !s.last.IsZero() && now.Sub(s.last) < deniedEvery {
		s.missed++
		return false, 0
	}
	missed = s.missed
	s.last, s.missed = now, 0
	return true, missed
}
