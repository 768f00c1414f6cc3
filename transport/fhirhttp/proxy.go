package fhirhttp

import (
	"net/http"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
)

// ProxyHint adds to a TLS failure of req what a proxy in the way means
// for it, when client sent req through one: mutual TLS passes a CONNECT
// tunnel end to end, but a proxy that inspects TLS ends the handshake
// itself, presenting its own certificate (unknown authority, hostname
// mismatch) and, having no client certificate of ferry's to present,
// getting the exchange's refusal (handshake failure, client certificate
// rejected). The *configtls.HandshakeError keeps its Problem and cause.
// A failed handshake with an https:// proxy itself already says so
// (configproxy.IsProxyTLS) and is returned as it is.
func ProxyHint(hs *configtls.HandshakeError, client *http.Client, req *http.Request) *configtls.HandshakeError {
	tr, _ := client.Transport.(*http.Transport)
	if tr == nil || tr.Proxy == nil || configproxy.IsProxyTLS(hs) {
		return hs
	}
	proxy, err := tr.Proxy(req)
	if err != nil || proxy == nil {
		return hs
	}
	var hint string
	switch hs.Problem {
	case configtls.UnknownAuthority, configtls.HostnameMismatch:
		hint = "; ferry reaches the exchange through proxy " + configproxy.Redact(proxy) +
			": if it inspects TLS, the certificate is the proxy's, not the exchange's; ask the clinic's IT to exempt the exchange's host from inspection (mutual TLS cannot pass it)"
	case configtls.ClientCertRejected, configtls.NoCommonParameters:
		hint = "; ferry reaches the exchange through proxy " + configproxy.Redact(proxy) +
			": a proxy that inspects TLS cannot pass ferry's client certificate on; ask the clinic's IT to exempt the exchange's host from inspection"
	default:
		return hs
	}
	c := *hs
	c.Hint += hint
	return &c
}
