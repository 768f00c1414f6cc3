package csvfhir

import (
	"time"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// buildEncounter makes a US Core Encounter: status, class and type are
// required there. Practitioners and places are names only (a Reference
// with a display): the export rarely carries their identifiers, and a
// made-up Practitioner per row would multiply them at the exchange.
func buildEncounter(get func(string) string, vals map[string][]string) (any, []problem) {
	e := &fhir.Encounter{ResourceType: "Encounter", Status: get("status")}
	var ps []problem
	if c := get("class"); c != "" {
		e.Class = fhir.Coding{System: v2fhir.SystemActCode, Code: c, Display: encounterClassDisplay[c]}
	} else {
		ps = append(ps, problem{"class", "no class (US Core requires one: AMB, IMP, EMER ...)"})
	}
	if t := concept(get("type.system"), get("type"), get("type.display"), get("type.text")); t != nil {
		e.Type = []fhir.CodeableConcept{*t}
	} else {
		ps = append(ps, problem{"type|type.text|type.display", "no type (US Core requires one)"})
	}
	start, end := get("period.start"), get("period.end")
	if !ordered(start, end) {
		ps = append(ps, problem{"period.end", "ends before it starts (period.start; FHIR per-1)"})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if start != "" || end != "" {
		e.Period = &fhir.Period{Start: start, End: end}
	}
	if e.Status == "" {
		// As the HL7 v2 path does: a visit with an end is over. Without
		// one the row does not say (a visit under way, or an export that
		// keeps no end), and a guess would close open visits.
		e.Status = "unknown"
		if end != "" {
			e.Status = "finished"
		}
	}
	if r := concept(get("reasonCode.system"), get("reasonCode"), get("reasonCode.display"), get("reasonCode.text")); r != nil {
		e.ReasonCode = []fhir.CodeableConcept{*r}
	}
	if v := get("participant.display"); v != "" {
		e.Participant = []fhir.EncounterParticipant{{Individual: &fhir.Reference{Display: v}}}
	}
	if v := get("location.display"); v != "" {
		e.Location = []fhir.EncounterLocation{{Location: fhir.Reference{Display: v}}}
	}
	return e, nil
}

// ordered reports whether a period from start to end (FHIR dates or
// dateTimes as parse writes them, either possibly empty) does not end
// before it starts. Values of different precision compare on the part
// both have (2024-03-04 does not end before 2024-03-04T10:00:00-05:00),
// as FHIRPath's comparison leaves them undecided rather than wrong.
func ordered(start, end string) bool {
	if start == "" || end == "" {
		return true
	}
	if len(start) > 10 && len(end) > 10 {
		s, err1 := time.Parse(time.RFC3339, start)
		e, err2 := time.Parse(time.RFC3339, end)
		if err1 == nil && err2 == nil {
			return !e.Before(s)
		}
	}
	n := min(len(start), len(end), 10)
	return end[:n] >= start[:n]
}
