package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/diskq"
)

// familyHistory is a C-CDA section ferry does not map: its entries go to
// the exchange only inside the attached document.
const familyHistory = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.15" extension="2015-08-01"/>
 <code code="10157-6" codeSystem="2.16.840.1.113883.6.1"/>
 <title>Family history</title>
 <text>Father (Everyman): myocardial infarction</text>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.45" extension="2015-08-01"/>
  <statusCode code="completed"/>
 </organizer></entry>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.45" extension="2015-08-01"/>
  <statusCode code="completed"/>
 </organizer></entry>
</section></component>
`

// TestCCDAUnconvertedCountedAndLogged: the entries of a C-CDA document
// that went only inside its attached document are counted in Stats and
// named at DEBUG by section code and template id, with no patient data;
// a resend (a duplicate) counts nothing more, and at INFO nothing is
// logged.
func TestCCDAUnconvertedCountedAndLogged(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(raw), "</structuredBody>", familyHistory+"</structuredBody>", 1)
	if doc == string(raw) {
		t.Fatal("test document changed: no structuredBody end tag")
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		dir := t.TempDir()
		q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close(context.Background()) })
		quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
		p := New(q, memSeen{}, quar, map[string]Converter{"ccda": CCDA{}}, log)
		in := adapters.Raw{Source: "folder/ehr", Format: "ccda", Name: "Everywoman_Eve.xml", Body: []byte(doc), Received: time.Now()}
		for range 2 {
			if err := p.Consume(context.Background(), in); err != nil {
				t.Fatal(err)
			}
		}
		if n := p.Stats().Unconverted.Load(); n != 2 {
			t.Errorf("%v: Stats.Unconverted = %d, want 2 (the two family history organizers, once)", level, n)
		}
		out := logs.String()
		if level == slog.LevelInfo {
			if out != "" {
				t.Errorf("at INFO the pipeline logged:\n%s", out)
			}
			continue
		}
		if strings.Count(out, "entries not converted") != 1 {
			t.Errorf("want one DEBUG line for the document, got:\n%s", out)
		}
		if !strings.Contains(out, "10157-6 organizer 2.16.840.1.113883.10.20.22.4.45 x2") || !strings.Contains(out, "entries=2") {
			t.Errorf("log does not name the section, template and count:\n%s", out)
		}
		for _, phi := range []string{"Everywoman", "Eve", "Everyman", "MRN-PRB1", "infarction"} {
			if strings.Contains(out, phi) {
				t.Errorf("log carries PHI %q:\n%s", phi, out)
			}
		}
	}
}
