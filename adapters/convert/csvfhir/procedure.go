package csvfhir

import "github.com/ferry-health/ferry/adapters/fhir"

// buildProcedure makes a US Core Procedure: a code, a status (completed
// unless the row says otherwise: an export lists what was done) and,
// for a completed or ongoing procedure, when (us-core-7).
func buildProcedure(get func(string) string, vals map[string][]string) (any, []problem) {
	p := &fhir.Procedure{ResourceType: "Procedure", Status: get("status"), PerformedDateTime: get("performedDateTime")}
	if p.Status == "" {
		p.Status = "completed"
	}
	var ps []problem
	p.Code = concept(get("code.system"), get("code"), get("code.display"), get("code.text"))
	if p.Code == nil {
		ps = append(ps, problem{"code|code.text|code.display", "no code"})
	}
	start, end := get("performedPeriod.start"), get("performedPeriod.end")
	switch {
	case !ordered(start, end):
		ps = append(ps, problem{"performedPeriod.end", "ends before it starts (performedPeriod.start; FHIR per-1)"})
	case start != "" || end != "":
		p.PerformedPeriod = &fhir.Period{Start: start, End: end}
	case p.PerformedDateTime == "" && (p.Status == "completed" || p.Status == "in-progress"):
		ps = append(ps, problem{"performedDateTime|performedPeriod.start|performedPeriod.end",
			"no date, but the procedure is " + p.Status + " (US Core us-core-7 wants when)"})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if r := concept(get("reasonCode.system"), get("reasonCode"), get("reasonCode.display"), get("reasonCode.text")); r != nil {
		p.ReasonCode = []fhir.CodeableConcept{*r}
	}
	if v := get("bodySite.text"); v != "" {
		p.BodySite = []fhir.CodeableConcept{{Text: v}}
	}
	if v := get("performer.display"); v != "" {
		p.Performer = []fhir.ProcedurePerformer{{Actor: &fhir.Reference{Display: v}}}
	}
	if v := get("location.display"); v != "" {
		p.Location = &fhir.Reference{Display: v}
	}
	p.Note = notes(vals["note"])
	return p, nil
}
