package ops

import (
	"net"
	"net/http"
	"strings"
)

// HostGuard serves next only to requests whose Host header names the
// status listener itself: its own address, a loopback address or
// "localhost" with its port, or a name in extra (status.allowed_hosts; a
// name with a port must match whole, one without takes the listener's
// port, 80 and 443: a reverse proxy in front of the page passes on the
// Host its browser sent, of the proxy's port). A Host without a port is
// of port 80, or 443 for a name in extra, as the listener cannot tell
// whether a proxy took it over HTTPS. Other requests get 421 Misdirected
// Request.
//
// The status page is on loopback and has no authentication, so a web page
// that a browser on the same machine opens must not read it. Such a page
// can bind a host name of its own to 127.0.0.1 (DNS rebinding) and then
// fetch /api/status or /metrics as same-origin requests; the browser then
// sends that name as the Host, which is what this check refuses.
func HostGuard(next http.Handler, bound net.Addr, extra []string) http.Handler {
	port := ""
	self := ""
	if bound != nil {
		if h, p, err := net.SplitHostPort(bound.String()); err == nil {
			self, port = h, p
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, self, port, extra) {
			http.Error(w, "misdirected request: this status page answers only to its own address (see status.allowed_hosts)", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed decides for one Host header value.
func hostAllowed(hostHeader, self, port string, extra []string) bool {
	host, p, err := net.SplitHostPort(hostHeader)
	bare := err != nil
	if bare {
		// No port: the default one, 80, or 443 behind an HTTPS proxy.
		host, p = strings.Trim(hostHeader, "[]"), "80"
	}
	host = strings.ToLower(host)
	for _, e := range extra {
		e = strings.ToLower(strings.TrimSpace(e))
		if eh, ep, err := net.SplitHostPort(e); err == nil {
			if eh == host && (ep == p || bare && ep == "443") {
				return true
			}
		} else if strings.Trim(e, "[]") == host && (p == port || p == "80" || p == "443") {
			// The name the contractor gave, on the listener's port or a
			// proxy's: a rebinding page's Host is a name of its own.
			return true
		}
	}
	if p != port || port == "" {
		return false
	}
	if host == "localhost" || host == strings.ToLower(self) {
		return true
	}
	// Any loopback address literal: a rebinding page has a name, and an
	// address names no one else.
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
