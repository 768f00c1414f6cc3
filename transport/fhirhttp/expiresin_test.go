package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestTokenExpiresInString: RFC 6749 §5.1 gives expires_in as a number,
// but some authorization servers write it as a JSON string ("60"); the
// token's life is read from either, not taken for 5 minutes (a token the
// server keeps for a minute was then sent for four minutes more, each
// request refused with 401), nor is a token kept for an hour replaced
// every 4½ minutes.
func TestTokenExpiresInString(t *testing.T) {
	for _, tc := range []struct {
		expiresIn string
		want      time.Duration
	}{
		{`"60"`, 60 * time.Second},
		{`"3600"`, time.Hour},
		{`" 3600 "`, time.Hour},
		{`3600`, time.Hour},
		{`3600.0`, time.Hour},
		{`""`, 5 * time.Minute},
		{`"soon"`, 5 * time.Minute},
		{`null`, 5 * time.Minute},
		{`-5`, 5 * time.Minute},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":`+tc.expiresIn+`,"scope":"system/*.cruds"}`)
		}))
		tok, life, _, err := requestToken(context.Background(), srv.Client(), tokenRequest{what: "SMART", url: srv.URL,
			form: url.Values{"scope": {"system/*.cruds"}}, field: "exchange.auth.smart"})
		srv.Close()
		if err != nil || tok != "tok-1" {
			t.Errorf("expires_in %s: token %q, %v", tc.expiresIn, tok, err)
			continue
		}
		if life != tc.want {
			t.Errorf("expires_in %s: token kept for %s, want %s", tc.expiresIn, life, tc.want)
		}
	}
}
