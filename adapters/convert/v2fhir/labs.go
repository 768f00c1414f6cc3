package v2fhir

func init() {
	for _, t := range []string{"R22", "R23", "R24"} {
		handlers["OUL^"+t] = (*conv).oul
	}
}

// oul converts the unsolicited laboratory observations OUL^R22
// (specimen-oriented), R23 (specimen and container) and R24
// (order-oriented), following the v2-to-FHIR OUL_R22 message map: PID to
// Patient, PV1 to Encounter, SPM to Specimen, OBR to DiagnosticReport and
// OBX to Observation. In R22/R23 an SPM heads a specimen group and the OBR
// that follow report on it; in R24 an SPM follows its OBR. OBX directly
// under the patient or a specimen become Observations of that patient or
// specimen; OBX under an OBR are the report's results. SAC, INV, TXA, PRT
// and CTI carry nothing ferry maps (the original message stays in the
// Binary).
func (x *conv) oul() error {
	orderFirst := x.typ.Trigger == "R24"
	w := resultWalk{x: x, looseInFocus: true}
	// spmScope is the stem a specimen group's SPM without a specimen id
	// (SPM-2) mints its key from: the patient, the collection time
	// (SPM-17; else the control id) and the type (SPM-4). An empty stem
	// gave every such specimen of every patient one key.
	var spmScope reportBuilder
	// NTE after a TXA annotate the document, not the report or an OBX.
	inTXA := false
	for _, seg := range x.m.Segments() {
		if seg.Name != "NTE" {
			inTXA = seg.Name == "TXA"
		}
		switch seg.Name {
		case "PID":
			if err := w.patient(seg); err != nil {
				return err
			}
			x.focus = append(x.focus, *x.patientRef)
			x.looseStem = ""
		case "PV1":
			if x.patientRef == nil {
				continue
			}
			if err := w.closeObs(); err != nil {
				return err
			}
			enc, err := x.encounter(seg, "unknown")
			if err != nil {
				return err
			}
			x.encRef = enc
		case "SPM":
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before SPM"}
			}
			if orderFirst && w.report != nil {
				if err := w.reportSpecimen(seg); err != nil {
					return err
				}
				continue
			}
			if err := w.closeReport(); err != nil {
				return err
			}
			spmScope.stem = x.slabs.text.cat(x.patientKey, "@", orStr(seg.Field(17).Text(1), x.controlID), ".", seg.Field(4).Text(1))
			ref, err := x.specimen(seg, &spmScope)
			if err != nil {
				return err
			}
			w.specimen = &ref
			x.looseStem = ""
			if id := seg.Field(2).Rep(1); id.Comp(2).Sub(1).Trimmed() != "" || id.Comp(1).Sub(1).Trimmed() != "" {
				x.looseStem = x.slabs.text.cat(x.patientKey, ".spm.", id.Comp(2).Sub(1).Trimmed(), ".", id.Comp(1).Sub(1).Trimmed())
			}
		case "OBR":
			// In OUL the order group's ORC follows its OBR: its numbers
			// are the report's where the OBR leaves them out.
			w.orc = x.followingORC(seg)
			if err := w.openReport(seg); err != nil {
				return err
			}
			// A new order group: the previous group's ORC-28 labels went
			// with its report, closed above, and stop here; this group's
			// ORC-28 labels its order, report and results from here.
			x.enterOrder(w.orc)
			if w.specimen != nil && !orderFirst {
				w.report.dr.Specimen = append(w.report.dr.Specimen, *w.specimen)
				w.report.specimen = w.specimen
			}
			if err := w.reportOrder(seg, w.orc); err != nil {
				return err
			}
		case "ORC":
			// Entered with its OBR (above); one that heads no order
			// group still labels what follows it.
			x.enterOrder(seg)
		case "OBX":
			if err := w.openObs(seg); err != nil {
				return err
			}
		case "NTE":
			if !inTXA {
				w.note(seg)
			}
		case "TXA":
			// A document inside the order: kept only in the Binary.
			if err := w.closeObs(); err != nil {
				return err
			}
		}
	}
	if err := w.closeReport(); err != nil {
		return err
	}
	if x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing"}
	}
	if w.reports+w.observations == 0 {
		return &ContentError{Segment: "OBR", Field: "OBR", Reason: "message carries neither an OBR nor an OBX result"}
	}
	return nil
}
