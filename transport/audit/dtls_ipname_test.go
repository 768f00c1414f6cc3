package audit

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestDTLSRepositoryAddressVerified: pion/dtls sends no IP address as
// SNI (RFC 6066 §3) and, having dropped it, verifies the server's
// certificate against no name at all, so a dtls:// repository named by
// its address (dtls://10.1.2.3:6514, as a clinic's audit server often
// is) was trusted with any certificate the CA had issued, another
// host's included, where a tls:// one is refused. The certificate must
// be for that address (RFC 5425 §5.2, RFC 6125), as for a name.
func TestDTLSRepositoryAddressVerified(t *testing.T) {
	ca, err := pki.NewCA("audit test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", ca.CertPEM())
	cc, ck, err := ca.Issue("ferry", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	client := configtls.ClientConfig{CAFile: caFile, CertFile: write("client.pem", cc), KeyFile: write("client.key", ck)}

	for _, tc := range []struct {
		name   string
		dns    []string
		ips    []net.IP
		accept bool
	}{
		{"another host's certificate", []string{"printer.clinic.lan"}, []net.IP{net.ParseIP("10.9.9.9")}, false},
		{"its own", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, sk, err := ca.Issue("audit repository", tc.dns, tc.ips, false)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(sc, sk)
			if err != nil {
				t.Fatal(err)
			}
			l, err := dtls.Listen("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &dtls.Config{
				Certificates:         []tls.Certificate{pair},
				ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
				ConnectContextMaker: func() (context.Context, func()) {
					return context.WithTimeout(context.Background(), 5*time.Second)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						if strings.Contains(err.Error(), "closed") {
							return
						}
						continue
					}
					defer c.Close()
				}
			}()
			ep, err := parseURL("dtls://" + l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			d, err := newDialer(ep, client, configproxy.Config{}, 5*time.Second, func(int) {})
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.dial(context.Background())
			if c != nil {
				c.Close()
			}
			switch {
			case tc.accept && err != nil:
				t.Fatalf("its own certificate refused: %v", err)
			case !tc.accept && err == nil:
				t.Fatal("a certificate for 10.9.9.9 and printer.clinic.lan was accepted from 127.0.0.1")
			case !tc.accept && (!strings.Contains(err.Error(), "127.0.0.1") || configtls.Diagnose(err) == nil):
				t.Errorf("refusal %q does not name the address or is not a hostname mismatch", err)
			}
		})
	}
}
