package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

func init() {
	handlers["RDS^O13"] = (*conv).dispenses
}

// dispenses converts RDS^O13 (v2-to-FHIR "RXD to MedicationDispense"): one
// MedicationDispense per RXD, authorised by its ORC's order (a logical
// reference by placer or filler number, since the MedicationRequest came
// with the RDE), with the RXR and NTE that follow the RXD as route and
// notes, and the OBX after it (RDS_O13's OBSERVATION group: what the
// dispense was worked out from, a weight or a level) as Observations it
// names as its supportingInformation, with their NTE as notes, as an
// RDE's are for its MedicationRequest.
func (x *conv) dispenses() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	var (
		orc hl7v2.Segment
		md  *fhir.MedicationDispense
		n   int
		// of is the dispense the OBX being gathered (obs) belong to.
		of  *fhir.MedicationDispense
		obs []orderObs
	)
	observations := func() error {
		if of != nil && len(obs) > 0 {
			refs, err := x.orderObservations(obs, of.Identifier[0])
			if err != nil {
				return err
			}
			of.SupportingInformation = append(of.SupportingInformation, refs...)
		}
		of, obs = nil, nil
		return nil
	}
	for _, seg := range x.m.Segments() {
		if of != nil {
			switch seg.Name {
			case "OBX":
				obs = append(obs, orderObs{obx: seg})
				continue
			case "NTE":
				if len(obs) > 0 {
					last := &obs[len(obs)-1]
					last.notes = append(last.notes, seg)
					continue
				}
			default:
				if err := observations(); err != nil {
					return err
				}
			}
		}
		switch seg.Name {
		case "AL1":
			// The patient's allergies (RDS_O13's PATIENT group, before
			// the first ORC), as an RDE's are.
			if orc.Name == "" {
				if err := x.allergy(seg); err != nil {
					return err
				}
			}
		case "ORC":
			orc, md = seg, nil
			x.enterOrder(seg)
		case "RXD":
			var err error
			if md, err = x.dispense(orc, seg); err != nil {
				return err
			}
			n++
		case "RXR":
			if md != nil && len(md.DosageInstruction) == 0 {
				if r := x.cwe(seg.Field(1).Rep(1), v2Table+"0162"); r != nil {
					md.DosageInstruction = []fhir.Dosage{{Route: r, Site: x.tableCC(seg.Field(2).Rep(1), "0163")}}
				}
			}
		case "NTE":
			if md != nil {
				if t := nteText(seg); t != "" {
					md.Note = append(md.Note, fhir.Annotation{Text: t})
				}
			}
		case "OBX":
			if md != nil {
				// The dispense's OBSERVATION group begins.
				of, obs = md, []orderObs{{obx: seg}}
			}
			md = nil // what follows no longer describes the dispense
		case "FT1", "TQ1", "RXE", "RXO":
			md = nil
		}
	}
	if err := observations(); err != nil {
		return err
	}
	if n == 0 {
		return &ContentError{Segment: "RXD", Field: "RXD", Reason: "required segment missing"}
	}
	return nil
}

func (x *conv) dispense(orc, rxd hl7v2.Segment) (*fhir.MedicationDispense, error) {
	med := x.cwe(rxd.Field(2).Rep(1), "")
	if med == nil {
		return nil, x.badField(rxd, 2, "dispense/give code is empty")
	}
	if orc.Name == "" {
		// RDS_O13 gives each RXD the ORC of the order it fills: RXD-2
		// is the drug, not where the order number is missing from.
		return nil, &ContentError{Segment: "ORC", Field: "ORC", Reason: "required segment missing before RXD"}
	}
	ids, order := x.orderIDs(orc, hl7v2.Segment{})
	if order.Value == "" {
		return nil, x.badField(orc, 2, "dispense has no order number (ORC-2/ORC-3)")
	}
	md := &fhir.MedicationDispense{
		ResourceType:              "MedicationDispense",
		Status:                    "completed",
		MedicationCodeableConcept: med,
		Subject:                   x.patientRef,
		Context:                   x.encRef,
	}
	if strings.EqualFold(orc.Field(5).Text(1), "ER") {
		md.Status = "entered-in-error" // the order was entered in error
	}
	sub := orStr(rxd.Field(1).Text(1), "1")
	// The order number's system is part of the key, as in reportStem:
	// a pharmacy fills the orders of several placers, whose numbers may
	// be equal, and a placer's number may equal a filler's.
	key := fhir.Identifier{System: x.system("dispense"), Value: x.reportStem(order) + "." + sub}
	md.Identifier = append(md.Identifier, key)
	if rx := rxd.Field(7).Trimmed(); rx != "" {
		md.Identifier = append(md.Identifier, fhir.Identifier{System: x.system("prescription"), Value: rx})
	}
	if len(ids) > 0 {
		p := ids[0] // one order: its first number identifies it
		md.AuthorizingPrescription = []fhir.Reference{{Type: "MedicationRequest", Identifier: &p}}
	}
	md.Quantity = x.quantity(rxd.Field(4).Text(1), rxd.Field(5).Rep(1))
	var err error
	if md.WhenHandedOver, err = x.fieldDateTime(rxd, 3); err != nil {
		return nil, err
	}
	for _, rep := range rxd.Field(10).Reps() {
		if ref := x.practitioner(rep); ref != nil {
			md.Performer = append(md.Performer, fhir.MedicationDispensePerformer{Actor: *ref})
		}
	}
	for _, rep := range rxd.Field(9).Reps() {
		if t := orStr(rep.Text(2), rep.Text(1)); t != "" {
			md.Note = append(md.Note, fhir.Annotation{Text: t})
		}
	}
	x.focus = append(x.focus, x.add("MedicationDispense", key, md))
	return md, nil
}
