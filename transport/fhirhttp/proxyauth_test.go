package fhirhttp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
)

// TestProxyAskingForWindowsSignIn: a proxy that answers 407 offering only
// NTLM or Negotiate (a Windows domain's proxy signing its users in) cannot
// be passed with the user and password ferry sends (Basic); the refusal
// says so, rather than that the password in proxy.url is wrong, or that
// one is missing, which sent the contractor changing a password that was
// never the problem.
func TestProxyAskingForWindowsSignIn(t *testing.T) {
	ex := newExchange(t, false)
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "right", Hosts: map[string]string{hieName: "127.0.0.1"},
		Challenge: []string{"Negotiate", "NTLM"}})
	for _, proxyURL := range []string{p.URLWith("ferry", "right"), p.URLWith("", "")} {
		s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(proxyURL)}})
		err := s.Send(context.Background(), item("01NTLM"))
		var re *configproxy.RefusedError
		if !errors.As(err, &re) || re.Code != http.StatusProxyAuthRequired {
			t.Fatalf("err = %v, want a 407 *configproxy.RefusedError", err)
		}
		msg := err.Error()
		for _, w := range []string{"Negotiate", "NTLM", "Basic"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", configproxy.RedactString(proxyURL), msg, w)
			}
		}
		for _, wrong := range []string{"did not accept the user and password", "put user:password@ in proxy.url"} {
			if strings.Contains(msg, wrong) {
				t.Errorf("%s: %q says %q", configproxy.RedactString(proxyURL), msg, wrong)
			}
		}
	}
}
