package pipeline

import (
	"crypto/sha256"
	"strings"
	"testing"

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
