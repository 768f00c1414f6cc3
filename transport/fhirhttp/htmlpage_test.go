package fhirhttp

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestProxyPageReasonIsItsText: a proxy or web application firewall in
// front of the exchange that refuses a bundle answers with its own HTML
// page, whose head carries a style sheet and a script before a word of
// what it says. The dead letter's reason quoted the page's first 200
// characters with its tags taken out, the style rules and the script
// kept ("Request refused body{font-family:Arial,...} var t=..."), and
// what the page says was cut off; it quotes the page's text without
// them.
func TestProxyPageReasonIsItsText(t *testing.T) {
	const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Request refused</title>
<!-- support page template v2 -->
<style type="text/css">body{font-family:Arial,Helvetica,sans-serif;background:#f4f4f4;margin:0;padding:0}.box{width:600px;margin:40px auto;border:1px solid #ccc}</style>
<SCRIPT>var t=Date.now();function reload(){if(t>0){location.reload()}}</SCRIPT></head>
<body><div class="box"><h1>Request body too large</h1><p>The proxy accepts requests of at most 10 MB.</p></div></body></html>`
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	ex.set(canned(413, "text/html; charset=utf-8", page, nil))
	err := s.Send(context.Background(), item("01PAGE"))
	if !queue.IsPermanent(err) {
		t.Fatalf("%v, want a dead letter", err)
	}
	reason := err.Error()
	if !strings.Contains(reason, "Request refused Request body too large The proxy accepts requests of at most 10 MB.") {
		t.Errorf("reason %q does not quote what the page says", reason)
	}
	for _, junk := range []string{"font-family", "Date.now", "template"} {
		if strings.Contains(reason, junk) {
			t.Errorf("reason %q quotes the page's %q", reason, junk)
		}
	}
}
