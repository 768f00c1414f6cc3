package fhirhttp

import (
	"context"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestRequestDeclaresUTF8: the bundles ferry sends are UTF-8 JSON, and
// the Content-Type says so, as FHIR R4 requires (http.html, Content
// Types and encodings: "Since the HTTP specification (section 3.7.1)
// defines a default character encoding of ISO-8859-1, requests and
// responses SHALL explicitly set the character encoding to UTF-8 using
// the charset parameter of the MIME-type in the Content-Type header").
// Without it a receiver that applies that default turns a patient named
// José into JosÃ©. A create (ITI-105) goes out the same way.
func TestRequestDeclaresUTF8(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	if err := s.Send(context.Background(), &queue.Item{ID: "01JOSE", Body: []byte(strings.Replace(bundle, `"identifier"`, `"name":[{"given":["José"]}],"identifier"`, 1))}); err != nil {
		t.Fatal(err)
	}
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", ex.url()+"/DocumentReference/7/_history/1")
		w.WriteHeader(http.StatusCreated)
	})
	doc := &queue.Item{ID: "01DOC", Body: []byte(`{"resourceType":"DocumentReference","status":"current","description":"Überweisung"}`),
		Attrs: map[string]string{queue.AttrCreate: "DocumentReference"}}
	if err := s.Send(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, r := range ex.requests {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != MediaType || !strings.EqualFold(params["charset"], "utf-8") {
			t.Errorf("%s %s: Content-Type %q, want %s; charset=utf-8", r.Method, r.URL.Path, r.Header.Get("Content-Type"), MediaType)
		}
	}
}
