package ehrdrop

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters"
)

// TestZipXDMMetadataCharset: a METADATA.XML written in the charset its
// declaration names (ISO-8859-1, windows-1252, UTF-16 with its byte-order
// mark) is read in it. Read as UTF-8 whatever it declared, one accented
// letter in a title or a patient's name made it unreadable, and the
// package's documents went unsent (or, before, unlabelled).
func TestZipXDMMetadataCharset(t *testing.T) {
	e := pdfEntry()
	e.title = "Überweisung an die Kardiologie"
	e.patientInfo = []string{"PID-5|Peña^José", "PID-7|19700101"}
	utf8MD := string(metadataXMLOf("20260301090000", e))
	for _, tc := range []struct {
		name, label string
		encode      func(string) (string, error)
	}{
		{"iso-8859-1", "ISO-8859-1", charmap.ISO8859_1.NewEncoder().String},
		{"windows-1252", "windows-1252", charmap.Windows1252.NewEncoder().String},
		{"utf-16", "UTF-16", unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := tc.encode(strings.Replace(utf8MD, `encoding="UTF-8"`, `encoding="`+tc.label+`"`, 1))
			if err != nil {
				t.Fatal(err)
			}
			pkg := buildZip(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
				zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)},
				zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
			)
			pipe, q := newPipeline(t)
			src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
			if err := src.consumeZip(context.Background(), adapters.Raw{Name: "latin.zip", Body: pkg, Meta: map[string]string{}}); err != nil {
				t.Fatal(err)
			}
			items := q.all()
			if len(items) != 1 {
				t.Fatalf("queued %d bundles, want the PDF's", len(items))
			}
			d := entryOf(t, items[0].Body, "DocumentReference")["resource"]
			if got := at(d, "content", 0, "attachment", "title"); got != e.title {
				t.Errorf("title %q, want %q", got, e.title)
			}
			pt := entryOf(t, items[0].Body, "Patient")
			if got := at(pt, "resource", "name", 0, "family"); got != "Peña" {
				t.Errorf("patient family %q, want Peña", got)
			}
		})
	}
}
