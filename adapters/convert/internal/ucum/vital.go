package ucum

import "strings"

// vitalUnits are the UCUM codes FHIR R4's vital signs profiles (and US
// Core's, derived from them) allow each measurement, by LOINC code: fixed
// for BMI, the rates, blood pressure and oxygen saturation, a required
// binding for lengths, weight and temperature.
var vitalUnits = map[string][]string{
	"39156-5": {"kg/m2"},
	"8867-4":  {"/min"},
	"9279-1":  {"/min"},
	"8480-6":  {"mm[Hg]"},
	"8462-4":  {"mm[Hg]"},
	"2708-6":  {"%"},
	"59408-5": {"%"},
	"8302-2":  {"cm", "[in_i]"},
	"9843-4":  {"cm", "[in_i]"},
	"29463-7": {"kg", "[lb_av]", "g"},
	"8310-5":  {"Cel", "[degF]"},
}

// sameUnits are UCUM units that say what a profile's unit says: a "1"
// factor, the US survey inch (2 ppm from the international one, far
// below any measurement of a patient).
var sameUnits = map[string]string{"1/min": "/min", "[in_us]": "[in_i]"}

// VitalSign reports whether loinc is the LOINC code of a vital sign whose
// unit FHIR R4's vital signs profiles fix or bind.
func VitalSign(loinc string) bool {
	_, ok := vitalUnits[loinc]
	return ok
}

// VitalUnit gives the UCUM code the vital signs profile wants for the
// value of the vital sign coded loinc when unit, a UCUM code (or none),
// says the same: an annotation as in "{beats}/min", one of sameUnits, a
// BMI whose unit is left at "1" or out. It reports false for a unit that
// says something else, which stays as sent, and for a code that is no
// vital sign.
func VitalUnit(loinc, unit string) (string, bool) {
	allowed := vitalUnits[loinc]
	if allowed == nil {
		return "", false
	}
	for _, a := range allowed {
		if unit == a {
			return a, true
		}
	}
	// Annotations ({beats}) are comments: UCUM gives them no meaning.
	for {
		i := strings.IndexByte(unit, '{')
		j := strings.IndexByte(unit, '}')
		if i < 0 || j < i {
			break
		}
		rest := unit[:i] + unit[j+1:]
		if rest == "" || strings.HasPrefix(rest, "/") && i == 0 {
			// "{beats}/min" is "1/min", an annotation alone is "1".
			rest = "1" + rest
		}
		unit = rest
	}
	if u, ok := sameUnits[unit]; ok {
		unit = u
	}
	if (unit == "" || unit == "1") && allowed[0] == "kg/m2" {
		unit = "kg/m2"
	}
	for _, a := range allowed {
		if unit == a {
			return a, true
		}
	}
	return "", false
}
