package ops

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configproxy"
)

// TestDoctorProxyDownNamesItsSetting: a proxy nothing answers at is to be
// fixed where it was set. One from HTTPS_PROXY (no proxy: section, the
// doctor's own environment) was said to be a "wrong host or port in
// proxy.url?", a key the file does not have; the hint names the variable,
// and proxy.url only when the proxy came from there.
func TestDoctorProxyDownNamesItsSetting(t *testing.T) {
	cfg, _ := proxiedExchange(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("https_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	opts := DoctorOptions{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		env   string
		proxy configproxy.Config
		want  string
	}{
		{gone, configproxy.Config{}, "(wrong host or port in HTTPS_PROXY?)"},
		{"", configproxy.Config{URL: configproxy.URL(gone)}, "(wrong host or port in proxy.url?)"},
	} {
		t.Setenv("HTTPS_PROXY", tc.env)
		cfg.Proxy = tc.proxy
		c := CheckExchange(context.Background(), cfg, opts)[0]
		if c.Level != Fail || !strings.Contains(c.Detail, "nothing accepts connections at proxy "+gone+" "+tc.want) {
			t.Errorf("HTTPS_PROXY %q, proxy %+v: %s, want %q", tc.env, tc.proxy, c.Detail, tc.want)
		}
	}
}
