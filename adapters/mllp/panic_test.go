package mllp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// panicky is the gateway's HL7 v2 converter with a bug: a message whose
// control id starts with POISON makes it panic, quoting a field the way a
// converter's own panic message would.
func panicky() pipeline.Converter {
	hl7 := pipeline.HL7{Conv: &v2fhir.Converter{}}
	return pipeline.ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]pipeline.Unit, error) {
		if bytes.Contains(in.Body, []byte("|POISON")) {
			panic(fmt.Sprintf("v2fhir: cannot map PID-5 %q", "DOE^JANE"))
		}
		return hl7.Convert(ctx, in)
	})
}

// panicPutter is a queue whose Put panics: a bug in storing, not in the
// message.
type panicPutter struct{}

func (panicPutter) Put(context.Context, *queue.Item) error { panic("diskq: index out of step") }

// startPipeline runs a source in front of a real pipeline (q as its queue,
// a diskq in t.TempDir() when nil) with the source's log in a buffer.
func startPipeline(t *testing.T, logPHI bool, q pipeline.Putter) (*Source, *pipeline.Pipeline, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	if q == nil {
		dq, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dq.Close(context.Background()) })
		q = dq
	}
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(q, nil, quar, map[string]pipeline.Converter{"hl7v2": panicky()}, nil)
	logs := &syncBuffer{}
	set := adapters.Settings{ID: "mllp/test", Logger: slog.New(slog.NewTextHandler(logs, nil)), LogPHI: logPHI}
	s, err := New(set, Config{Listen: "127.0.0.1:0"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, p, logs
}

// errText returns the ERR segment's text (ERR-8, v2.5 on).
func errText(segs [][]string) string {
	for _, s := range segs {
		if s[0] == "ERR" && len(s) > 8 {
			return s[8]
		}
	}
	return ""
}

// A message that makes the converter panic is the message's problem, like
// one that cannot be converted: AE with an ERR segment, the message kept in
// the quarantine with the reason, and the next message goes through. Were
// it AR, the sender would resend it into the same panic forever and hold
// up everything behind it.
func TestSourceConverterPanicQuarantines(t *testing.T) {
	for _, logPHI := range []bool{false, true} {
		t.Run(fmt.Sprintf("log_phi=%v", logPHI), func(t *testing.T) {
			s, p, logs := startPipeline(t, logPHI, nil)
			c := dial(t, s)
			poison := msg("POISON1")
			segs := c.roundTrip(t, poison)
			if code, id := msa(segs); code != "AE" || id != "POISON1" {
				t.Fatalf("poison: %q", segs)
			}
			if txt := errText(segs); !strings.Contains(txt, "internal error: the converter panicked") {
				t.Errorf("ERR text %q", txt)
			}
			for _, s := range segs {
				if strings.Contains(strings.Join(s, "|"), "DOE") {
					t.Errorf("ACK quotes the message: %q", segs)
				}
			}
			// Enhanced mode: the same error as a commit error.
			enh := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|POISON2|P|2.5.1|||AL|NE\rPID|1||X^^^HOSP^MR||DOE^JANE\r")
			if code, id := msa(c.roundTrip(t, enh)); code != "CE" || id != "POISON2" {
				t.Fatalf("enhanced poison: MSA %s %s", code, id)
			}
			if code, id := msa(c.roundTrip(t, msg("OK1"))); code != "AA" || id != "OK1" {
				t.Fatalf("next message: MSA %s %s", code, id)
			}
			if st := p.Stats(); st.Queued.Load() != 1 || st.Quarantined.Load() != 2 {
				t.Errorf("queued %d, quarantined %d", st.Queued.Load(), st.Quarantined.Load())
			}

			ids, err := p.Quarantine().List()
			if err != nil || len(ids) != 2 {
				t.Fatalf("quarantine: %v %v", ids, err)
			}
			e, err := p.Quarantine().Get(ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.Raw, poison) {
				t.Errorf("quarantined %q", e.Raw)
			}
			// The quarantine holds the raw message anyway: the panic value
			// and the stack are there for whoever fixes the converter.
			for _, want := range []string{"internal error: the converter panicked", `cannot map PID-5 "DOE^JANE"`, "goroutine"} {
				if !strings.Contains(e.Reason, want) {
					t.Errorf("quarantine reason lacks %q:\n%s", want, e.Reason)
				}
			}

			out := logs.String()
			// Without log_phi, the panic's Go type stands for its value.
			panicAttr := "panic=string"
			if logPHI {
				panicAttr = `panic="v2fhir: cannot map PID-5`
			}
			for _, want := range []string{"mllp converter panicked", "control_id=POISON1", "message_type=ADT^A01^ADT_A01", panicAttr, "goroutine"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
			if logPHI != strings.Contains(out, "DOE") {
				t.Errorf("log_phi %v, log:\n%s", logPHI, out)
			}
		})
	}
}

// A panic while storing is no fault of the message: AR, so the sender keeps
// it and sends it again, and nothing is quarantined.
func TestSourceStoragePanicGivesAR(t *testing.T) {
	s, p, logs := startPipeline(t, false, panicPutter{})
	c := dial(t, s)
	for _, id := range []string{"S1", "S2"} { // the connection survives
		if code, got := msa(c.roundTrip(t, msg(id))); code != "AR" || got != id {
			t.Fatalf("MSA %s %s", code, got)
		}
	}
	if n := p.Stats().Quarantined.Load(); n != 0 {
		t.Errorf("%d quarantined", n)
	}
	out := logs.String()
	if !strings.Contains(out, "mllp consumer panicked") || !strings.Contains(out, "goroutine") || strings.Contains(out, "index out of step") || strings.Contains(out, "DOE") {
		t.Errorf("log:\n%s", out)
	}
}
