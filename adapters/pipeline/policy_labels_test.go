package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
)

// TestPolicyLabelsMatchBundles: the labels the HL7 v2 converter lists
// (Unit.Labels) give the policy the same answer as reading the bundles
// back would, for the message as a whole: a message is held when any of
// its bundles carries a held label, and then all its parts are.
func TestPolicyLabelsMatchBundles(t *testing.T) {
	inputs := map[string][]byte{
		"message labels": []byte("MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|R|ADT^A04^ADT_A01|SEC-1|P|2.8|||AL|NE||UNICODE UTF-8|||||||" +
			"|V^very restricted^HL70952|NODSCLCD^no disclosure^HL70953~42CFRPart2^Part 2^HL70953" +
			"\rEVN|A04|20240315082955\rPID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC\r"),
		"msh-8 only": []byte("MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|R|ADT^A04|SEC-2|P|2.5.1\rPID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\r"),
	}
	files, _ := filepath.Glob("../../testdata/convert/v2-*/input.hl7")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(filepath.Dir(f))] = b
		// The same message with an order-level label on its first ORC.
		if i := strings.Index(string(b), "\rORC|"); i >= 0 {
			seg := string(b[i+1:])
			if j := strings.IndexByte(seg, '\r'); j >= 0 {
				seg = seg[:j]
			}
			fields := strings.Split(seg, "|")
			for len(fields) <= 28 {
				fields = append(fields, "")
			}
			fields[28] = "HIV^HIV/AIDS information^HL70177"
			inputs[filepath.Base(filepath.Dir(f))+" orc-28 HIV"] = []byte(strings.Replace(string(b), seg, strings.Join(fields, "|"), 1))
		}
	}
	h := HL7{Conv: &v2fhir.Converter{MaxEntries: 8}}
	for name, raw := range inputs {
		units, err := h.Convert(context.Background(), adapters.Raw{Format: "hl7v2", Name: name, Body: raw})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, hold := range [][]string{{"R"}, {"V"}, {"N"}, {"HIV"}, {"42CFRPart2"}, {"NODSCLCD"}, {"R", "V", "42CFRPart2"}} {
			p := Policy{Hold: hold}
			anyBytes := false
			for _, u := range units {
				if u.Err != nil {
					continue
				}
				if _, held := p.Held(u.Bundle); held {
					anyBytes = true
				}
			}
			for _, u := range units {
				if u.Err != nil {
					continue
				}
				if !u.LabelsKnown {
					t.Fatalf("%s: %s has no labels listed", name, u.Name)
				}
				if _, held := p.HeldLabels(u.Labels); held != anyBytes {
					t.Errorf("%s, hold %v: %s held by its labels %v, by its bundles %v", name, hold, u.Name, held, anyBytes)
				}
				if strings.HasSuffix(name, "orc-28 HIV") && hold[0] == "HIV" && !anyBytes {
					t.Errorf("%s: not held for HIV", name)
				}
			}
		}
	}
}
