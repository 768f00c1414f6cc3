package ops

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestDeniedRequestPathCleaned: the path of a request refused for its
// token, which any local process (or a web page's form POST to
// 127.0.0.1) chooses, reaches the WARN line and the failed-login audit
// event printable and short, as the operator it claims does. Before, it
// went in whole: a path of 64 KiB made an event no datagram holds
// (audit over udp:// or dtls:// truncates it, and the repository cannot
// read it), and a decoded %0A put a line break into it.
func TestDeniedRequestPathCleaned(t *testing.T) {
	var got []OpRecord
	mux := http.NewServeMux()
	RegisterOpsHandlers(mux, nil, "the-token", func(error) bool { return false },
		OpsAudit{Denied: func(r OpRecord) { got = append(got, r) }})
	long := strings.Repeat("A", 64<<10) + "%0Aforged%0D%1B"
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/api/ops/deadletters/"+long+"/retry", nil),
		httptest.NewRequest(http.MethodGet, "/api/ops/deadletters/"+long, nil),
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s %.40s: %d, want 401", req.Method, req.URL.Path, rec.Code)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d refusals reported, want 2", len(got))
	}
	for _, r := range got {
		if len(r.Action) > 256 || strings.ContainsFunc(r.Action, unicode.IsControl) {
			t.Errorf("refused request reported as %d bytes %.60q...", len(r.Action), r.Action)
		}
		if !strings.HasPrefix(r.Action, "POST /api/ops/deadletters/AAA") && !strings.HasPrefix(r.Action, "GET /api/ops/deadletters/AAA") {
			t.Errorf("refused request reported as %.60q", r.Action)
		}
	}
}

// TestCleanHeaderKeepsUTF8: an operator name or path cut at 128 bytes is
// cut between characters, and bytes that are no UTF-8 are replaced, so
// the audit record (XML or JSON) carries text, not half a character.
func TestCleanHeaderKeepsUTF8(t *testing.T) {
	long := strings.Repeat("a", 127) + "é" // é is 2 bytes: 129 in all
	if got := cleanHeader(long); got != strings.Repeat("a", 127) || !utf8.ValidString(got) {
		t.Errorf("cut: %q", got)
	}
	if got := cleanHeader("dr\xffsmith\r\n"); got != "dr\uFFFDsmith" {
		t.Errorf("invalid byte: %q", got)
	}
}
