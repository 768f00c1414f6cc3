package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSiteID: the site id is created once, survives a reopen of the same
// data_dir, differs between installations, and identifiers.base overrides
// it; a damaged file is an error, not a silent new id.
func TestSiteID(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.DataDir = filepath.Join(dir, "data")
	if base, err := c.IdentifierBase(); err != nil || base != "" {
		t.Fatalf("before any gateway start: %q, %v (want the converter's default)", base, err)
	}
	id, err := c.EnsureSiteID()
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.IdentifierBase()
	if err != nil || base != SiteBasePrefix+id {
		t.Fatalf("base %q, %v; id %s", base, err, id)
	}
	// Reopen: a new Config on the same data_dir reads the same id.
	again := Default()
	again.DataDir = c.DataDir
	if id2, err := again.EnsureSiteID(); err != nil || id2 != id {
		t.Fatalf("after reopen: %s, %v; want %s", id2, err, id)
	}
	if b2, _ := again.IdentifierBase(); b2 != base {
		t.Errorf("base after reopen %q, want %q", b2, base)
	}
	entries, _ := os.ReadDir(c.DataDir)
	if len(entries) != 1 || entries[0].Name() != SiteIDFile {
		t.Errorf("data dir holds %v, want only %s", entries, SiteIDFile)
	}
	// Another installation.
	other := Default()
	other.DataDir = filepath.Join(dir, "other")
	if id3, err := other.EnsureSiteID(); err != nil || id3 == id {
		t.Errorf("second installation: %s, %v", id3, err)
	}
	// identifiers.base wins.
	c.Identifiers.Base = "urn:oid:1.2.3.4"
	if b, err := c.IdentifierBase(); err != nil || b != "urn:oid:1.2.3.4" {
		t.Errorf("configured base: %q, %v", b, err)
	}
	// Damaged.
	if err := os.WriteFile(filepath.Join(other.DataDir, SiteIDFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.EnsureSiteID(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged site id: %v", err)
	}
	if _, err := other.IdentifierBase(); err == nil {
		t.Error("damaged site id read without error")
	}
}

func TestIdentifierWarning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		url      string
		base     string
		systems  map[string]string
		wantWarn bool
	}{
		{"outbox only", "", "", nil, false},
		{"exchange, nothing mapped", "https://hie.example.org/fhir", "", nil, true},
		{"exchange, systems mapped", "https://hie.example.org/fhir", "", map[string]string{"MRN": "urn:oid:1.2.3"}, false},
		{"exchange, base set", "https://hie.example.org/fhir", "https://clinic.example.org/id", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Exchange.URL, c.Identifiers.Base, c.Identifiers.Systems = tc.url, tc.base, tc.systems
			w := c.IdentifierWarning()
			if (w != "") != tc.wantWarn {
				t.Fatalf("warning %q, want one: %v", w, tc.wantWarn)
			}
			if tc.wantWarn && !strings.Contains(w, "OID") {
				t.Errorf("warning does not say what to do: %q", w)
			}
		})
	}
}
