package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestDedupKeyBytes pins what DedupKey hashes: sending application,
// facility and control id, each ended by NUL, then the SHA-256 of the
// normalised message; keys stored by earlier versions must still match.
func TestDedupKeyBytes(t *testing.T) {
	long := strings.Repeat("X", 300)
	for _, raw := range []string{
		"MSH|^~\\&|APP|FAC|R|RF|20240101||ADT^A01|C1|P|2.5\rPID|1||1",
		"MSH|^~\\&|" + long + "|" + long + "|R|RF|20240101||ADT^A01|" + long + "|P|2.5\rPID|1||1",
		"MSH|^~\\&||||RF|20240101||ADT^A01||P|2.5",
	} {
		m, err := hl7v2.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		content := sha256.Sum256(m.Bytes())
		h := sha256.New()
		for _, s := range []string{m.SendingApp(), m.SendingFacility(), m.ControlID()} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write(content[:])
		var want [32]byte
		h.Sum(want[:0])
		if got := DedupKey(m); got != want {
			t.Errorf("DedupKey(%.40q) = %x, want %x", raw, got, want)
		}
	}
}

// TestAckErrorCodes: a message that cannot be converted is answered with
// the table 0357 code that says why: a missing segment is 100, an empty
// required field 101, a value that does not parse as its type 102.
func TestAckErrorCodes(t *testing.T) {
	h := HL7{Conv: &v2fhir.Converter{}}
	const msh = "MSH|^~\\&|APP|FAC|R|RF|20240101120000||ADT^A01|C1|P|2.5.1\r"
	for _, tc := range []struct{ body, code, seg string }{
		{msh + "EVN|A01\r", "100", "PID"},
		{msh + "PID|1||\r", "101", "PID"},
		{msh + "PID|1||123^^^HOSP^MR||Doe^Jane||2024133\r", "102", "PID"},
	} {
		units, err := h.Convert(context.Background(), adapters.Raw{Format: "hl7v2", Name: "m", Body: []byte(tc.body)})
		if err == nil && len(units) > 0 {
			err = units[0].Err
		}
		var ae *hl7v2.AckError
		if !errors.As(err, &ae) || ae.ErrCode != tc.code || ae.Segment != tc.seg || ae.Code != hl7v2.CodeAE {
			t.Errorf("%q: %v (%+v), want AE %s on %s", tc.body[len(msh):], err, ae, tc.code, tc.seg)
		}
	}
}
