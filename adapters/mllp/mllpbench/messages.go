package mllpbench

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// Synthetic patients. The names are invented; the combinations give a few
// thousand distinct people, so that a run has both many patients and
// repeated ones (per-patient ordering downstream gets exercised).
var (
	family  = []string{"Okafor", "Lindqvist", "Moreau", "Tanaka", "Garcia", "Novak", "Haddad", "Kowalski", "Mensah", "Rossi", "Nguyen", "O'Brien", "Schmidt", "Patel", "Silva", "Ivanova"}
	given   = []string{"Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kaia", "Luis", "Maren", "Nadia", "Omar", "Priya", "Quinn", "Rosa"}
	streets = []string{"Harbour Rd", "Elm St", "Mill Lane", "Station Ave", "Kingsway", "Rue Verte"}
	cities  = []string{"Springfield^IL^62701", "Portland^OR^97201", "Madison^WI^53703", "Burlington^VT^05401"}
	// tests are LOINC-coded chemistry results; a value is base ± spread/2,
	// divided by 10 when tenths is set.
	tests = []struct {
		code, name, unit, low, high string
		base, spread                int
		tenths                      bool
	}{
		{"2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "70", "99", 85, 60, false},
		{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "3.5", "5.1", 42, 20, true},
		{"2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "136", "145", 140, 8, false},
		{"718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "12.0", "17.5", 140, 40, true},
		{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "0.6", "1.3", 9, 6, true},
	}
)

// Kind selects a generated message type.
type Kind string

// Generated message kinds.
const (
	ADT Kind = "adt" // ADT^A01 admission
	ORU Kind = "oru" // ORU^R01 lab result
)

// patient derives a stable synthetic patient from a number.
type patient struct {
	mrn, fam, giv, dob, sex, addr string
}

// patients caches patientFor: a run cycles through a few thousand of them.
var patients sync.Map // int → patient

func patientFor(n int) patient {
	if p, ok := patients.Load(n); ok {
		return p.(patient)
	}
	p := makePatient(n)
	patients.Store(n, p)
	return p
}

func makePatient(n int) patient {
	p := patient{
		mrn: fmt.Sprintf("MRN%07d", 1000000+n),
		fam: family[n%len(family)],
		giv: given[(n/len(family))%len(given)],
		dob: time.Date(1930+n%85, time.Month(1+n%12), 1+n%28, 0, 0, 0, 0, time.UTC).Format("20060102"),
		sex: []string{"F", "M", "F", "M", "U"}[n%5],
	}
	p.addr = fmt.Sprintf("%d %s^^%s^USA", 1+n%400, streets[n%len(streets)], cities[n%len(cities)])
	return p
}

// Generate returns a realistic HL7 v2.5.1 message of kind k for patient
// number pat, with control id id, sent at t. It asks for original-mode
// acknowledgement (MSH-15/16 empty), as most clinic systems do.
func Generate(k Kind, id string, pat int, t time.Time) []byte {
	// Built with appends rather than fmt: the generator shares the CPU with
	// the receiver it measures, so it should cost as little as possible.
	p := patientFor(pat)
	var tsBuf [16]byte
	ts := string(t.AppendFormat(tsBuf[:0], "20060102150405"))
	b := make([]byte, 0, 1024)
	typ := "ADT^A01^ADT_A01"
	if k == ORU {
		typ = "ORU^R01^ORU_R01"
	}
	b = append(b, "MSH|^~\\&|BENCHEHR|CLINIC|FERRY|HIE|"...)
	b = append(b, ts...)
	b = append(b, "||"...)
	b = append(b, typ...)
	b = append(b, '|')
	b = append(b, id...)
	b = append(b, "|P|2.5.1||||||UNICODE UTF-8\r"...)
	if k == ADT {
		b = append(b, "EVN|A01|"...)
		b = append(b, ts...)
		b = append(b, '\r')
	}
	b = append(b, "PID|1||"...)
	b = append(b, p.mrn...)
	b = append(b, "^^^HOSP^MR||"...)
	b = append(b, hl7v2.DefaultDelimiters.Encode(p.fam)...)
	b = append(b, '^')
	b = append(b, p.giv...)
	b = append(b, "^^^^^L||"...)
	b = append(b, p.dob...)
	b = append(b, '|')
	b = append(b, p.sex...)
	b = append(b, "|||"...)
	b = append(b, p.addr...)
	b = append(b, "||^PRN^PH^^1^555^"...)
	b = appendPadded(b, 1000000+pat%9000000, 7)
	b = append(b, "|||||ACCT"...)
	b = append(b, id...)
	b = append(b, '\r')
	switch k {
	case ADT:
		b = append(b, "PV1|1|I|WARD"...)
		b = strconv.AppendInt(b, int64(1+pat%6), 10)
		b = append(b, '^')
		b = strconv.AppendInt(b, int64(100+pat%40), 10)
		b = append(b, "^1^CLINIC||||1234^Welby^Marcus^^^DR|||MED||||ADM|||||V"...)
		b = append(b, id...)
		b = append(b, "|||||||||||||||||||||||||"...)
		b = append(b, ts...)
		b = append(b, '\r')
		b = append(b, "AL1|1|DA|^Penicillin|MO|Rash\r"...)
		b = append(b, "DG1|1||I10^Essential (primary) hypertension^I10C||"...)
		b = append(b, ts...)
		b = append(b, "|A\r"...)
	case ORU:
		b = append(b, "PV1|1|O|LAB^^^CLINIC\r"...)
		b = append(b, "ORC|RE|ORD"...)
		b = append(b, id...)
		b = append(b, "|FIL"...)
		b = append(b, id...)
		b = append(b, '\r')
		b = append(b, "OBR|1|ORD"...)
		b = append(b, id...)
		b = append(b, "|FIL"...)
		b = append(b, id...)
		b = append(b, "|24323-8^Comprehensive metabolic panel^LN|||"...)
		b = append(b, ts...)
		b = append(b, "|||||||||1234^Welby^Marcus^^^DR||||||"...)
		b = append(b, ts...)
		b = append(b, "|||F\r"...)
		for i, tst := range tests {
			v := tst.base + (pat*7+i*13)%tst.spread - tst.spread/2
			b = append(b, "OBX|"...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, "|NM|"...)
			b = append(b, tst.code...)
			b = append(b, '^')
			b = append(b, tst.name...)
			b = append(b, "^LN||"...)
			if tst.tenths {
				b = strconv.AppendFloat(b, float64(v)/10, 'f', 1, 64)
			} else {
				b = strconv.AppendInt(b, int64(v), 10)
			}
			b = append(b, '|')
			b = append(b, tst.unit...)
			b = append(b, '|')
			b = append(b, tst.low...)
			b = append(b, '-')
			b = append(b, tst.high...)
			b = append(b, "|N|||F|||"...)
			b = append(b, ts...)
			b = append(b, '\r')
		}
	}
	return b
}

// appendPadded appends n (not negative) in decimal, zero-padded to width.
func appendPadded(b []byte, n, width int) []byte {
	var buf [20]byte
	d := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// SetControlID returns msg with its MSH-10 replaced by id (delimiters
// taken from the message). Segment terminators are normalised to CR so
// that messages read from files go on the wire as HL7 requires.
func SetControlID(msg []byte, id string) ([]byte, error) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\r"))
	msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r"))
	msg = bytes.TrimRight(msg, "\r \t")
	msg = append(msg, '\r')
	if len(msg) < 8 || !bytes.HasPrefix(msg, []byte("MSH")) {
		return nil, fmt.Errorf("set control id: message does not start with MSH")
	}
	fs := msg[3]
	end := bytes.IndexByte(msg, '\r')
	// MSH-10 is the 9th field separator's field (MSH-1 is the separator).
	start, n := 3, 0
	for i := 3; i < end; i++ {
		if msg[i] == fs {
			n++
			if n == 9 {
				start = i + 1
				stop := bytes.IndexByte(msg[start:end], fs)
				if stop < 0 {
					stop = end - start
				}
				out := make([]byte, 0, len(msg)+len(id))
				out = append(out, msg[:start]...)
				out = append(out, id...)
				return append(out, msg[start+stop:]...), nil
			}
		}
	}
	return nil, fmt.Errorf("set control id: MSH has fewer than 10 fields")
}
