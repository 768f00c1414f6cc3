package mllpbench

import (
	"bytes"
	"fmt"
	"strconv"
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

func patientFor(n int) patient {
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
	p := patientFor(pat)
	ts := t.Format("20060102150405")
	var b bytes.Buffer
	b.Grow(768)
	typ := "ADT^A01^ADT_A01"
	if k == ORU {
		typ = "ORU^R01^ORU_R01"
	}
	fmt.Fprintf(&b, "MSH|^~\\&|BENCHEHR|CLINIC|FERRY|HIE|%s||%s|%s|P|2.5.1||||||UNICODE UTF-8\r", ts, typ, id)
	if k == ADT {
		fmt.Fprintf(&b, "EVN|A01|%s\r", ts)
	}
	fmt.Fprintf(&b, "PID|1||%s^^^HOSP^MR||%s^%s^^^^^L||%s|%s|||%s||^PRN^PH^^1^555^%07d|||||ACCT%s\r",
		p.mrn, hl7v2.DefaultDelimiters.Encode(p.fam), p.giv, p.dob, p.sex, p.addr, 1000000+pat%9000000, id)
	switch k {
	case ADT:
		fmt.Fprintf(&b, "PV1|1|I|WARD%d^%d^1^CLINIC||||1234^Welby^Marcus^^^DR|||MED||||ADM|||||V%s|||||||||||||||||||||||||%s\r",
			1+pat%6, 100+pat%40, id, ts)
		fmt.Fprintf(&b, "AL1|1|DA|^Penicillin|MO|Rash\r")
		fmt.Fprintf(&b, "DG1|1||I10^Essential (primary) hypertension^I10C||%s|A\r", ts)
	case ORU:
		fmt.Fprintf(&b, "PV1|1|O|LAB^^^CLINIC\r")
		fmt.Fprintf(&b, "ORC|RE|ORD%s|FIL%s\r", id, id)
		fmt.Fprintf(&b, "OBR|1|ORD%s|FIL%s|24323-8^Comprehensive metabolic panel^LN|||%s|||||||||1234^Welby^Marcus^^^DR||||||%s|||F\r", id, id, ts, ts)
		for i, tst := range tests {
			v := tst.base + (pat*7+i*13)%tst.spread - tst.spread/2
			val := strconv.Itoa(v)
			if tst.tenths {
				val = strconv.FormatFloat(float64(v)/10, 'f', 1, 64)
			}
			fmt.Fprintf(&b, "OBX|%d|NM|%s^%s^LN||%s|%s|%s-%s|N|||F|||%s\r", i+1, tst.code, tst.name, val, tst.unit, tst.low, tst.high, ts)
		}
	}
	return b.Bytes()
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
