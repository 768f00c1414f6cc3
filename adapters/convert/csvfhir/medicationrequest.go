package csvfhir

import "github.com/ferry-health/ferry/adapters/fhir"

// sysMedReqCategory is MedicationRequest.category's code system.
const sysMedReqCategory = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"

// buildMedicationRequest makes an entry of US Core's medication list: a
// US Core 6.1 MedicationRequest (status, intent, medication), valid
// under US Core 7's us-core-21 as well, which wants the prescriber of
// an order. An entry the patient reported (reportedBoolean) is a plan
// unless the row says otherwise, as US Core's medication list guidance
// records what a patient takes on their own account; other entries
// are orders, and an order needs its prescriber.
func buildMedicationRequest(get func(string) string, vals map[string][]string) (any, []problem) {
	mr := &fhir.MedicationRequest{ResourceType: "MedicationRequest", Status: get("status"), Intent: get("intent"),
		ReportedBoolean: boolPtr(get("reportedBoolean")), AuthoredOn: get("authoredOn")}
	if mr.Status == "" {
		mr.Status = "active" // a medication list holds what the patient takes
	}
	reported := mr.ReportedBoolean != nil && *mr.ReportedBoolean
	if mr.Intent == "" {
		mr.Intent = "order"
		if reported {
			mr.Intent = "plan"
		}
	}
	var ps []problem
	mr.MedicationCodeableConcept = concept(get("medication.system"), get("medication"), get("medication.display"), get("medication.text"))
	if mr.MedicationCodeableConcept == nil {
		ps = append(ps, problem{"medication|medication.text|medication.display", "no medication"})
	}
	if v := get("requester.display"); v != "" {
		mr.Requester = &fhir.Reference{Display: v}
	} else if mr.Intent == "order" {
		ps = append(ps, problem{"requester.display", "an order without its prescriber (US Core us-core-21 wants one when intent is order): mark patient-reported rows with reportedBoolean, or give them intent plan"})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if c := get("category"); c != "" {
		mr.Category = []fhir.CodeableConcept{*coded(sysMedReqCategory, c)}
	}
	if v := get("dosageInstruction.text"); v != "" {
		mr.DosageInstruction = []fhir.Dosage{{Text: v}}
	}
	if r := concept(get("reasonCode.system"), get("reasonCode"), get("reasonCode.display"), get("reasonCode.text")); r != nil {
		mr.ReasonCode = []fhir.CodeableConcept{*r}
	}
	mr.Note = notes(vals["note"])
	return mr, nil
}
