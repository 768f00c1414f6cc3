package v2fhir

import (
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

const sysUCUM = "http://unitsofmeasure.org"

// corpusMessage reads a shared corpus message with each pair of old, new
// replaced once.
func corpusMessage(t *testing.T, name string, oldNew ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/" + name)
	if err != nil {
		t.Skip("corpus not present: " + err.Error())
	}
	s := string(raw)
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s: no %q", name, oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return []byte(s)
}

// corpusEncounters converts a shared corpus message and returns its
// Encounters.
func corpusEncounters(t *testing.T, name string) []*fhir.Encounter {
	t.Helper()
	b, _, err := testConverter(t).ConvertRaw(corpusMessage(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return entriesOf[fhir.Encounter](b)
}

// TestOBXUnitsUCUMOnlyWhenValid: feeds code OBX-6 "K/uL" or "cells/mcL"
// with coding system UCUM. They went out as UCUM codes, which the
// exchange's terminology validator rejects; now such a unit keeps only its
// text, for the value and the reference range alike, while real UCUM
// ("g/mL", "10*3/uL") keeps system and code.
func TestOBXUnitsUCUMOnlyWhenValid(t *testing.T) {
	raw := corpusMessage(t, "LRI_2.0-NG_CBC_Typ_Message.hl7",
		"0.1|10*3/uL^thousand per microliter^UCUM", "0.1|K/uL^thousand per microliter^UCUM",
		"105600|{cells}/uL^cells per microliter^UCUM", "105600|cells/mcL^^UCUM",
		"12.5|g/mL^grams per milliliter^UCUM", "12.5|mEq/L^^UCUM-CS")
	b, _, err := testConverter(t).ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	obs := map[string]*fhir.Observation{}
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*fhir.Observation); ok && len(o.Code.Coding) > 0 {
			obs[o.Code.Coding[0].Code] = o
		}
	}
	for _, c := range []struct{ loinc, value, unit, code string }{
		{"26444-0", "0.1", "thousand per microliter", ""}, // K/uL
		{"26464-8", "105600", "cells/mcL", ""},
		{"718-7", "12.5", "mEq/L", ""},
		{"26484-6", "3", "thousand per microliter", "10*3/uL"},
		{"26453-1", "4.41", "million per microliter", "10*6/uL"},
	} {
		o := obs[c.loinc]
		if o == nil || o.ValueQuantity == nil {
			t.Errorf("%s: no valueQuantity", c.loinc)
			continue
		}
		qs := []*fhir.Quantity{o.ValueQuantity}
		if len(o.ReferenceRange) != 1 || o.ReferenceRange[0].Low == nil || o.ReferenceRange[0].High == nil {
			t.Errorf("%s: reference range %+v, want low and high", c.loinc, o.ReferenceRange)
		} else {
			qs = append(qs, o.ReferenceRange[0].Low, o.ReferenceRange[0].High)
		}
		if string(o.ValueQuantity.Value) != c.value {
			t.Errorf("%s: value %s, want %s", c.loinc, o.ValueQuantity.Value, c.value)
		}
		for _, q := range qs {
			wantSys := ""
			if c.code != "" {
				wantSys = sysUCUM
			}
			if q.Unit != c.unit || q.Code != c.code || q.System != wantSys {
				t.Errorf("%s: quantity unit %q system %q code %q, want unit %q system %q code %q",
					c.loinc, q.Unit, q.System, q.Code, c.unit, wantSys, c.code)
			}
		}
	}
}

// TestSPMQuantityUCUMOnlyWhenValid: SPM-12 units coded UCUM are a UCUM
// code only when they are one ("mcL" is not).
func TestSPMQuantityUCUMOnlyWhenValid(t *testing.T) {
	for _, c := range []struct{ spm12, unit, code string }{
		{"40^mcL&microliter&UCUM", "microliter", ""},
		{"40^mL&milliliter&UCUM", "milliliter", "mL"},
	} {
		raw := corpusMessage(t, "ORU-R01-01.hl7", "|40^&lbs|", "|"+c.spm12+"|")
		b, _, err := testConverter(t).ConvertRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		var q *fhir.Quantity
		for _, e := range b.Entry {
			if sp, ok := e.Resource.(*fhir.Specimen); ok && sp.Collection != nil && sp.Collection.Quantity != nil {
				q = sp.Collection.Quantity
			}
		}
		if q == nil {
			t.Fatalf("%s: no Specimen.collection.quantity", c.spm12)
		}
		wantSys := ""
		if c.code != "" {
			wantSys = sysUCUM
		}
		if string(q.Value) != "40" || q.Unit != c.unit || q.Code != c.code || q.System != wantSys {
			t.Errorf("%s: quantity %+v, want 40 %q system %q code %q", c.spm12, q, c.unit, wantSys, c.code)
		}
	}
}
