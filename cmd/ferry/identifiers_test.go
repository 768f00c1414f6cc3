package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/config"
)

// TestConvertersUseSiteBase: once the gateway has made the site id, the
// HL7 v2 converter mints identifier systems under it (not the fixed
// urn:ferry shared by every installation), and two installations differ.
func TestConvertersUseSiteBase(t *testing.T) {
	msg := []byte("MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A04|A100|P|2.5.1\rPID|1||123^^^MRN^MR||Roe^Rick||19700101|M\r")
	system := func(dataDir string, ensure bool) string {
		cfg := config.Default()
		cfg.DataDir = dataDir
		id := ""
		if ensure {
			var err error
			if id, err = cfg.EnsureSiteID(); err != nil {
				t.Fatal(err)
			}
		}
		units, err := converters(cfg)["hl7v2"].Convert(context.Background(), adapters.Raw{Format: "hl7v2", Body: msg, Received: time.Now()})
		if err != nil || len(units) != 1 || units[0].Err != nil {
			t.Fatalf("convert: %v %+v", err, units)
		}
		want := "urn:ferry:id:mrn"
		if ensure {
			want = config.SiteBasePrefix + id + ":id:mrn"
		}
		if !strings.Contains(string(units[0].Bundle), `"system":"`+want+`"`) {
			t.Errorf("bundle lacks system %s:\n%s", want, units[0].Bundle)
		}
		return want
	}
	dir := t.TempDir()
	system(filepath.Join(dir, "none"), false) // `ferry convert` before any start
	a := system(filepath.Join(dir, "a"), true)
	if a2 := system(filepath.Join(dir, "a"), true); a2 != a {
		t.Errorf("restart changed the system: %s -> %s", a, a2)
	}
	if b := system(filepath.Join(dir, "b"), true); b == a {
		t.Errorf("two installations share %s", a)
	}
}
