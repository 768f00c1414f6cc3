package v2fhir

import (
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestTextValueRepetitionsBounded: a text OBX-5 (ST, TX, FT) of a great
// many repetitions (a sender's bug: a field of ~ up to max_frame_bytes)
// becomes its lines joined, without holding a string for each line
// first: that cost some 80 times the field's size, 1.7 GiB for a 16 MiB
// message, past any bound max_buffered_bytes gives.
func TestTextValueRepetitionsBounded(t *testing.T) {
	const reps = 4 << 20
	raw := []byte("MSH|^~\\&|LAB|FAC|FERRY|CLINIC|20240315143000-0500||ORU^R01^ORU_R01|L1|P|2.5.1\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"OBR|1|ORD-1|F-1|58410-2^CBC^LN|||20240315091500-0500||||||||||||||20240315142500-0500||HM|F\r" +
		"OBX|1|FT|6690-2^Leukocytes^LN||a" + strings.Repeat("~", reps) + "b||||||F\r")
	msg, err := hl7v2.ParseShared(raw)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, _, err := (&Converter{}).Convert(msg, raw)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(raw)); got > limit {
		t.Errorf("Convert allocated %d MiB for a %d MiB message, want at most %d MiB", got>>20, len(raw)>>20, limit>>20)
	}
	obs := entriesOf[fhir.Observation](b)
	if len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	for _, o := range obs {
		if want := "a" + strings.Repeat("\n", reps) + "b"; o.ValueString != want {
			t.Errorf("valueString of %d bytes, want %d", len(o.ValueString), len(want))
		}
	}
}

// TestManySegmentsBounded: a message of a great many segments that
// become no resource (a sender's bug: NTEs with nothing in them, up to
// max_frame_bytes) costs its conversion about its size: the lists of
// entries, their references and requests were made room for one of each
// a segment before any was read, 160 bytes for a segment of 4, some 40
// times the message's size, 640 MiB for a 16 MiB message.
func TestManySegmentsBounded(t *testing.T) {
	raw := []byte("MSH|^~\\&|LAB|FAC|FERRY|CLINIC|20240315143000-0500||ORU^R01^ORU_R01|L1|P|2.5.1\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"OBR|1|ORD-1|F-1|58410-2^CBC^LN|||20240315091500-0500||||||||||||||20240315142500-0500||HM|F\r" +
		"OBX|1|ST|6690-2^Leukocytes^LN||7.2||||||F\r" + strings.Repeat("NTE\r", 1<<20))
	msg, err := hl7v2.ParseShared(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := &Converter{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, _, lease, err := c.ConvertLeased(msg, raw)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(2*len(raw)); got > limit {
		t.Errorf("ConvertLeased allocated %d MiB for a %d MiB message, want at most %d MiB", got>>20, len(raw)>>20, limit>>20)
	}
	if obs := entriesOf[fhir.Observation](b); len(obs) != 1 || obs[0].ValueString != "7.2" {
		t.Errorf("observations %+v", obs)
	}
}
