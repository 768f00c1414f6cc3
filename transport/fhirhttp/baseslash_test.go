package fhirhttp

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestBaseWithSlashIsPostedAsGiven: a FHIR server at the root of its web
// application (Spring Boot's context path, whose Tomcat redirects the
// root without its slash: server.tomcat.redirect-context-root) answers a
// POST to .../fhir/R4 with a redirect to .../fhir/R4/. ferry reports the
// redirect and says to set exchange.url to the base it names; once that
// is done the transaction goes to that URL, slash and all, rather than to
// the one redirected again. A create, and SMART discovery, still join
// their paths to the base with one slash.
func TestBaseWithSlashIsPostedAsGiven(t *testing.T) {
	ex := newExchange(t, false)
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/R4":
			http.Redirect(w, r, "/fhir/R4/", http.StatusFound)
		case "/fhir/R4/":
			answerOK(http.StatusOK)(w, r)
		case "/fhir/R4/DocumentReference":
			w.Header().Set("Location", "DocumentReference/1/_history/1")
			w.WriteHeader(http.StatusCreated)
		default:
			http.NotFound(w, r)
		}
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	err := s.Send(context.Background(), item("01SLASH"))
	if !IsEndpointProblem(err) || !strings.Contains(err.Error(), "/fhir/R4/") {
		t.Fatalf("POST to the base without its slash: %v; want an endpoint problem naming the redirect", err)
	}

	s = newSink(t, Config{URL: ex.url() + "/", TLS: ex.clientTLS()})
	if err := s.Send(context.Background(), item("01SLASH")); err != nil {
		t.Fatalf("exchange.url set to the base the redirect names: %v; want delivered", err)
	}
	create := &queue.Item{ID: "01SLASHC", Body: []byte(`{"resourceType":"DocumentReference","status":"current"}`), Attrs: map[string]string{queue.AttrCreate: "DocumentReference"}}
	if err := s.Send(context.Background(), create); err != nil {
		t.Fatalf("create under a base with a slash: %v", err)
	}
}
