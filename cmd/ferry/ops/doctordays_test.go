package ops

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDoctorDaysLeftRoundedDown: the doctor rounded a certificate's days
// left to the nearest day, where `ferry status` (and the daily expiry
// warning) gives the whole days left, rounded down. A certificate good
// for 14 more hours read "1 days left" in the doctor and "0 days left"
// in the status, and one good for 29 days and 18 hours "30 days left;
// renew it soon". The doctor gives the whole days left, as the status
// does.
func TestDoctorDaysLeftRoundedDown(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	now := time.Now()
	for i, left := range []time.Duration{14 * time.Hour, 29*24*time.Hour + 18*time.Hour, 100*24*time.Hour + 13*time.Hour} {
		c, k, err := good.ca.IssueValid("ferry client", nil, nil, true, now.Add(-time.Hour), now.Add(left))
		if err != nil {
			t.Fatal(err)
		}
		cert := writeFile(t, dir, fmt.Sprintf("client-%d.pem", i), c)
		key := writeFile(t, dir, fmt.Sprintf("client-%d.key", i), k)
		cfg := exchangeConfig(t, "https://hie.example.org/fhir", good.caFile, cert, key)
		var status int
		for _, cs := range ConfiguredCertificates(cfg, now) {
			if cs.Use == "exchange client certificate" {
				status = cs.DaysLeft
			}
		}
		if want := int(left / (24 * time.Hour)); status != want {
			t.Fatalf("%s left: status gives %d days left, want %d", left, status, want)
		}
		var detail string
		for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
			if ch.Name == "exchange.tls.cert_file "+cert {
				detail = ch.Detail
			}
		}
		if want := fmt.Sprintf("%d days left", status); !strings.Contains(detail, want) {
			t.Errorf("%s left: doctor says %q, want %q as ferry status says", left, detail, want)
		}
	}
}
