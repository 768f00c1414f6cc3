package configproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/config/configproxy/proxytest"
)

const secret = "hunter2-s3cret"

// TestURLRedacts: the password of a proxy URL never prints, through any
// fmt verb or marshaller; the rest of the URL does.
func TestURLRedacts(t *testing.T) {
	u := URL("http://ferry:" + secret + "@proxy.clinic.local:3128")
	want := "http://ferry:[REDACTED]@proxy.clinic.local:3128"
	j, _ := json.Marshal(Config{URL: u})
	y, _ := yaml.Marshal(Config{URL: u})
	txt, _ := u.MarshalText()
	for _, got := range []string{
		fmt.Sprint(u), fmt.Sprintf("%s|%v|%q|%x|%d|%#v|%+v", u, u, u, u, u, u, Config{URL: u}), string(j), string(y), string(txt),
	} {
		if strings.Contains(got, secret) || !strings.Contains(got, want) {
			t.Errorf("printed %q", got)
		}
	}
	var back Config
	if err := yaml.Unmarshal([]byte("url: "+string(u)), &back); err != nil || back.URL != u {
		t.Errorf("decoded %q, %v", string(back.URL), err)
	}
	if got := RedactString("http://ferry:p%zz" + secret + "@proxy:3128"); strings.Contains(got, secret) {
		t.Errorf("unparsable URL printed %q", got)
	}
	if got := URL("http://proxy:3128").String(); got != "http://proxy:3128" {
		t.Errorf("no password: %q", got)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{URL: Direct}, ""},
		{Config{URL: "http://proxy.clinic.local:3128", NoProxy: []string{"hie-test.local", ".example.org", "10.0.0.0/8", "fd00::/8", "10.1.2.3", "host:8443", "*"}}, ""},
		{Config{URL: URL("https://ferry:" + secret + "@proxy.clinic.local")}, ""},
		{Config{URL: URL("socks5://ferry:" + secret + "@proxy:1080")}, `url: scheme "socks5" not supported; use http:// or https://`},
		{Config{URL: "proxy.clinic.local:3128"}, "url: want http://host:port or https://host:port, with the scheme (or direct)"},
		{Config{URL: URL("http://ferry:" + secret + "%zz@proxy:3128")}, "url: not a valid URL"},
		{Config{URL: "http://:3128"}, "url: has no host"},
		{Config{URL: "http://proxy:3128/path"}, "url: a proxy URL is scheme://host:port, with no path or query"},
		{Config{NoProxy: []string{"hie.local"}}, "no_proxy: set without url"},
		{Config{URL: Direct, NoProxy: []string{"hie.local"}}, "no_proxy: has no effect with url: direct"},
		{Config{URL: "http://proxy:3128", NoProxy: []string{"ok.local", "10.0.0.0/33"}}, `no_proxy[1]: "10.0.0.0/33" is not a CIDR network`},
		{Config{URL: "http://proxy:3128", NoProxy: []string{"a.local, b.local"}}, `no_proxy[0]: "a.local, b.local": want one host`},
		{Config{URL: "http://proxy:3128", NoProxy: []string{"https://hie.local"}}, `no_proxy[0]: "https://hie.local" is a URL`},
		{Config{URL: "https://proxy:3128", CAFile: "/etc/ferry/clinic-ca.pem"}, ""},
		{Config{CAFile: "/etc/ferry/clinic-ca.pem"}, ""}, // for an https HTTPS_PROXY
		{Config{URL: "http://proxy:3128", CAFile: "/etc/ferry/clinic-ca.pem"}, "ca_file: only an https:// proxy's certificate is checked"},
		{Config{URL: Direct, CAFile: "/etc/ferry/clinic-ca.pem"}, "ca_file: has no effect with url: direct"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		case err != nil && strings.Contains(err.Error(), secret):
			t.Errorf("the password is in %q", err)
		}
	}
}

// TestFunc: the proxy a request goes through under each setting, the
// matching of no_proxy being httpproxy's (NO_PROXY's) own.
func TestFunc(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://env-proxy:8080")
	t.Setenv("HTTP_PROXY", "http://env-proxy:8080")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	t.Setenv("REQUEST_METHOD", "")
	configured := Config{URL: "http://proxy.clinic.local:3128", NoProxy: []string{"hie-test.local", ".internal.example", "10.0.0.0/8"}}
	cases := []struct {
		cfg    Config
		target string
		want   string // proxy host, "" for direct
	}{
		{configured, "https://hie.example.org/fhir", "proxy.clinic.local:3128"},
		{configured, "http://crl.example.org/ca.crl", "proxy.clinic.local:3128"},
		{configured, "https://hie-test.local/fhir", ""},
		{configured, "https://a.hie-test.local/fhir", ""},
		{configured, "https://x.internal.example/fhir", ""},
		{configured, "https://10.20.30.40:8443/fhir", ""},
		{configured, "https://127.0.0.1:8443/fhir", ""},
		{configured, "https://localhost/fhir", ""},
		{Config{URL: Direct}, "https://hie.example.org/fhir", ""},
		{Config{}, "https://hie.example.org/fhir", "env-proxy:8080"},
	}
	for _, tc := range cases {
		u, _ := url.Parse(tc.target)
		got, err := tc.cfg.Func()(&http.Request{URL: u})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		host := ""
		if got != nil {
			host = got.Host
		}
		if host != tc.want {
			t.Errorf("%+v %s: proxy %q, want %q", tc.cfg, tc.target, host, tc.want)
		}
	}
}

// TestDial: a CONNECT tunnel through a real proxy carries bytes both
// ways; refusals are *RefusedError naming the proxy, password redacted.
func TestDial(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: secret,
		Deny: func(target string) bool { return strings.HasPrefix(target, "blocked.invalid") }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pu, _ := url.Parse(p.URL())
	c, err := Config{}.Dial(ctx, pu, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	c.Close()
	if p.Tunnels() != 1 {
		t.Errorf("%d tunnels", p.Tunnels())
	}

	for _, tc := range []struct {
		proxy, target string
		code          int
		hint          string
	}{
		{p.URLWith("ferry", "wrong-"+secret), echo.Addr().String(), 407, "did not accept the user and password"},
		{p.URLWith("", ""), echo.Addr().String(), 407, "requires a login"},
		{p.URL(), "blocked.invalid:443", 403, "does not allow connections to blocked.invalid:443"},
	} {
		pu, _ := url.Parse(tc.proxy)
		_, err := Config{}.Dial(ctx, pu, tc.target)
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != tc.code || !strings.Contains(err.Error(), tc.hint) ||
			!strings.Contains(err.Error(), "proxy http://") || strings.Contains(err.Error(), secret) {
			t.Errorf("%s → %s: %v", RedactString(tc.proxy), tc.target, err)
		}
	}
}

// TestURLRedactsUnencodedPassword: a password with a '#', '/' or '?'
// not percent-encoded ends the URL's host where it stands, so that the
// URL parses with no password at all when what comes before it is
// empty or digits: it printed whole, the password with it, wherever the
// URL did (a config printed, ferry doctor's proxy line from HTTPS_PROXY).
func TestURLRedactsUnencodedPassword(t *testing.T) {
	for _, pw := range []string{"1234#" + secret, "#" + secret, "/" + secret, "99?" + secret} {
		raw := "http://ferry:" + pw + "@proxy.clinic.local:3128"
		u := URL(raw)
		parsed, _ := url.Parse(raw)
		t.Setenv("HTTPS_PROXY", raw)
		t.Setenv("NO_PROXY", "")
		d, err := Config{}.Decide(&url.URL{Scheme: "https", Host: "hie.example.org"})
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []string{fmt.Sprint(u), fmt.Sprintf("%v|%q|%#v", u, u, Config{URL: u}), RedactString(raw), Redact(parsed), d.String()} {
			if strings.Contains(got, secret) || !strings.Contains(got, "[REDACTED]@proxy.clinic.local:3128") {
				t.Errorf("%q printed %q", pw, got)
			}
		}
		if err := (Config{URL: u}).Validate(); err == nil || !strings.Contains(err.Error(), "percent-encoded") || strings.Contains(err.Error(), secret) {
			t.Errorf("%q: validate %v", pw, err)
		}
	}
}
