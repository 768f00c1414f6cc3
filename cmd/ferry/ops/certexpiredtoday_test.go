package ops

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestStatusCertificateExpiredHoursAgo: a certificate that expired less
// than a day ago stops delivery as surely as one that expired last month,
// yet its days left, the hours to its expiry divided by 24 and cut
// towards zero, came out 0, and `ferry status` said it "expires" that
// day "(0 days left - renew soon)", as for one still good for hours. It
// says EXPIRED, and its days left are below 0.
func TestStatusCertificateExpiredHoursAgo(t *testing.T) {
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(notAfter time.Time) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "exchange root"},
			NotBefore: now.Add(-72 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		notAfter time.Time
		want     string
		expired  bool
	}{
		{"expired 12 hours ago", now.Add(-12 * time.Hour), "exchange CA EXPIRED on", true},
		{"expires in 12 hours", now.Add(12 * time.Hour), "(0 days left - renew soon)", false},
	} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Exchange.URL = "https://hie.example.org/fhir"
		cfg.Exchange.TLS.CAFile = writeFile(t, dir, strings.ReplaceAll(c.name, " ", "-")+".pem", mint(c.notAfter))
		certs := ConfiguredCertificates(cfg, now)
		if len(certs) != 1 || certs[0].Error != "" {
			t.Fatalf("%s: %+v", c.name, certs)
		}
		if got := certs[0].DaysLeft < 0; got != c.expired {
			t.Errorf("%s: days left %d", c.name, certs[0].DaysLeft)
		}
		var out bytes.Buffer
		PrintStatus(&out, &Status{Now: now, Certificates: certs})
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%s: status lacks %q:\n%s", c.name, c.want, out.String())
		}
	}
}
