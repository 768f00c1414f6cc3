package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUDAPMetadataExpiryOnTheExchangesClock: the signed metadata's exp is
// the exchange's time, read by ferry's clock. Its iat was allowed two
// minutes of difference between the clocks, its exp none: metadata an
// exchange signs for a few minutes, seen from a clinic PC a minute fast,
// was refused as expired, and a clock ten minutes off was refused with no
// word of the clocks, where a refused token names them.
func TestUDAPMetadataExpiryOnTheExchangesClock(t *testing.T) {
	for _, tc := range []struct {
		name         string
		clock, exp   time.Duration // the server's clock against ferry's; the metadata's life
		refused      bool
		wantInReason []string
	}{
		{"a minute behind, signed for 30 s", -time.Minute, 30 * time.Second, false, nil},
		{"ten minutes behind, signed for 5 minutes", -10 * time.Minute, 5 * time.Minute, true, []string{"ferry's clock is 10m", "ahead of the exchange's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t, "community root")
			ex := newExchange(t, false)
			srv := newUDAPServer(t, ex, ca)
			srv.clock, srv.metaExp = tc.clock, tc.exp
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			cfg := udapSetup(t, ca, key)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
			err := s.Send(context.Background(), item("01METACLOCK"))
			if !tc.refused {
				if err != nil && strings.Contains(err.Error(), "signed_metadata") {
					t.Fatalf("send: %v, want the metadata taken", err)
				}
				return
			}
			assertRefused(t, err, srv, append([]string{"expired"}, tc.wantInReason...)...)
		})
	}
}
