package v2fhir

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// serviceRequestURL is the request URL of the bundle's one ServiceRequest
// and the reference the bundle's other resources make to it.
func serviceRequestURL(t *testing.T, b *fhir.Bundle) (*fhir.ServiceRequest, string, string) {
	t.Helper()
	var sr *fhir.ServiceRequest
	var at, full string
	for _, e := range b.Entry {
		if s, ok := e.Resource.(*fhir.ServiceRequest); ok {
			if sr != nil {
				t.Fatalf("bundle has more than one ServiceRequest")
			}
			sr, at, full = s, e.Request.URL, e.FullURL
		}
	}
	if sr == nil {
		t.Fatalf("bundle has no ServiceRequest")
	}
	return sr, at, full
}

// TestResultWritesItsOrder: an ORU^R01's ORC and OBR are the order the
// results answer, which the HL7 v2-to-FHIR IG maps to a ServiceRequest
// (ORU_R01: ORC[ServiceRequest], "DiagnosticReport[1].basedOn.reference=
// ServiceRequest[1].id", OBR[ServiceRequest] "IF ORC VALUED", "needed if
// the receiver is not the originator of the order"), with ORC-12 (else
// OBR-16) as its requester. The exchange did not place the clinic's
// order, so without it the result's ordering provider was lost. The
// ServiceRequest is keyed as the order message's is (placer number), so
// the clinic's ORM and the lab's ORU land on one order at the exchange,
// in every write mode, and a re-send writes the same one.
func TestResultWritesItsOrder(t *testing.T) {
	const doctor = "1234567893^Lee^Grace^^^Dr^^^^^^^NPI"
	orm := strings.Join([]string{
		"MSH|^~\\&|EPIC|SPRINGCLINIC|LIS|ACMELAB|20261124080000||ORM^O01^ORM_O01|ORM-1|P|2.5.1",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"ORC|NW|ORD-5001^EPIC|||||||20261124080000|||" + doctor,
		"OBR|1|ORD-5001^EPIC||24331-1^Lipid panel^LN||||||||||||" + doctor,
	}, "\n") + "\n"
	oru := strings.Join([]string{
		"MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||ORU^R01^ORU_R01|%s|P|2.5.1",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"ORC|RE|ORD-5001^EPIC|L-9001^ACMELAB||CM||||20261125101000|||" + doctor,
		"OBR|1|ORD-5001^EPIC|L-9001^ACMELAB|24331-1^Lipid panel^LN|||20261124075500|||||||||" + doctor + "||||||20261125100000|||F",
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^^UCUM|<200|N|||F|||20261124075500",
	}, "\n") + "\n"
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			ob, _ := convertMDM(t, mode, orm)
			_, orderAt, _ := serviceRequestURL(t, ob)
			b, _ := convertMDM(t, mode, fmt.Sprintf(oru, "LAB-1"))
			strictR4(t, marshal(t, b))
			sr, at, full := serviceRequestURL(t, b)
			if at != orderAt {
				t.Errorf("result's order written at %s, the order message's at %s: two orders", at, orderAt)
			}
			if sr.Status != "completed" || sr.Intent != "order" || firstCode(sr.Code) != "24331-1" {
				t.Errorf("order: status %q intent %q code %q", sr.Status, sr.Intent, firstCode(sr.Code))
			}
			if sr.AuthoredOn != "" {
				t.Errorf("authoredOn %q from ORC-9 of a result (the IG: only IF ORC-1 is NW)", sr.AuthoredOn)
			}
			var ids []string
			for _, id := range sr.Identifier {
				ids = append(ids, id.Value)
			}
			if strings.Join(ids, ",") != "ORD-5001,L-9001" {
				t.Errorf("identifiers %v, want placer and filler", ids)
			}
			pracs := entriesOf[fhir.Practitioner](b)
			if sr.Requester == nil || len(pracs) != 1 || !strings.Contains(toJSON(pracs[0]), "1234567893") {
				t.Fatalf("requester %+v, practitioners %d", sr.Requester, len(pracs))
			}
			drs := entriesOf[fhir.DiagnosticReport](b)
			ref := at
			if mode == ModeConditional {
				ref = full
			}
			if len(drs) != 1 || len(drs[0].BasedOn) != 1 || drs[0].BasedOn[0].Reference != ref {
				t.Errorf("report basedOn %+v, want %s", drs[0].BasedOn, ref)
			}
			again, _ := convertMDM(t, mode, fmt.Sprintf(oru, "LAB-2"))
			if _, at2, _ := serviceRequestURL(t, again); at2 != at {
				t.Errorf("re-sent result writes its order at %s, first at %s", at2, at)
			}
		})
	}
}

// TestResultOrderWithoutORC: a result without ORC (ORC is optional in
// ORU_R01, and labs on v2.3 leave it out) writes no order, as the IG's
// OBR[ServiceRequest] row is "IF ORC VALUED": its report keeps the logical
// reference to the order by placer number.
func TestResultOrderWithoutORC(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/LAB-ORU-1.hl7")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := testConverter(t).ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entriesOf[fhir.ServiceRequest](b)); n != 0 {
		t.Errorf("%d ServiceRequests from a result without ORC", n)
	}
	for _, dr := range entriesOf[fhir.DiagnosticReport](b) {
		if len(dr.BasedOn) != 1 || dr.BasedOn[0].Reference != "" || dr.BasedOn[0].Identifier == nil {
			t.Errorf("basedOn %+v, want the logical reference by placer number", dr.BasedOn)
		}
	}
}

// TestResultOrderSharedByReports: a culture and its susceptibilities (a
// child OBR with its own filler number under the parent's placer number,
// each with its ORC) are reports of one order: one ServiceRequest, which
// both reports are basedOn, the first OBR's test its code. Split into
// parts (hl7v2.max_entries), every part refers only to what it or an
// earlier part writes.
func TestResultOrderSharedByReports(t *testing.T) {
	msg := strings.Join([]string{
		"MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||ORU^R01^ORU_R01|LAB-9|P|2.5.1",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"ORC|RE|ORD-6001^EPIC|L-7001^ACMELAB||CM|||||||1234567893^Lee^Grace^^^Dr^^^^^^^NPI",
		"OBR|1|ORD-6001^EPIC|L-7001^ACMELAB|630-4^Bacteria identified in Urine by Culture^LN|||20261124075500||||||||||||||||||F",
		"OBX|1|CWE|630-4^Bacteria identified in Urine by Culture^LN|1|112283007^Escherichia coli^SCT||||||F",
		"ORC|RE|ORD-6001^EPIC|L-7002^ACMELAB||CM|||||||1234567893^Lee^Grace^^^Dr^^^^^^^NPI",
		"OBR|2|ORD-6001^EPIC|L-7002^ACMELAB|29576-6^Bacterial susceptibility panel^LN|||20261124075500||||||||||||||||||F|||L-7001&ACMELAB",
		"OBX|1|SN|18906-8^Ciprofloxacin [Susceptibility]^LN|1|<=^0.25|ug/mL|||S|||F",
		"OBX|2|SN|18932-4^Gentamicin [Susceptibility]^LN|1|<=^1|ug/mL|||S|||F",
	}, "\r") + "\r"
	c := testConverter(t)
	b, _, err := c.ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	sr, at, _ := serviceRequestURL(t, b)
	if firstCode(sr.Code) != "630-4" {
		t.Errorf("order code %q, want the first OBR's", firstCode(sr.Code))
	}
	drs := entriesOf[fhir.DiagnosticReport](b)
	if len(drs) != 2 {
		t.Fatalf("%d reports", len(drs))
	}
	for _, dr := range drs {
		if len(dr.BasedOn) != 1 || dr.BasedOn[0].Reference != at {
			t.Errorf("report %s basedOn %+v, want %s", firstCode(&dr.Code), dr.BasedOn, at)
		}
	}
	c.MaxEntries = 3
	m, err := hl7v2.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	parts, _, err := c.ConvertParts(m, []byte(msg))
	if err != nil || len(parts) < 2 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
	written := map[string]bool{}
	for i, p := range parts {
		js := marshal(t, p)
		for _, e := range p.Entry {
			written[e.Request.URL] = true
		}
		for _, m := range regexpRef.FindAllStringSubmatch(string(js), -1) {
			if !written[m[1]] {
				t.Errorf("part %d references %s before it is written", i, m[1])
			}
		}
	}
}

// TestResultOrderTiming: the order's TQ1, after the result's OBR (ORU_R01's
// TIMING_QTY), gives its priority and time, as an order message's does.
func TestResultOrderTiming(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/ORU-R01-01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := testConverter(t).ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	strictR4(t, marshal(t, b))
	sr, _, _ := serviceRequestURL(t, b)
	// Its ORC-1 is NW: ORC-9 is when the order was placed (the IG:
	// authoredOn "IF ORC.1 IS NW").
	if sr.Priority != "asap" || sr.OccurrenceDateTime != "2021-10-09T16:00:00-08:00" || sr.AuthoredOn != "2020-09-10T17:00:00+02:15" {
		t.Errorf("priority %q, occurrence %q, authoredOn %q", sr.Priority, sr.OccurrenceDateTime, sr.AuthoredOn)
	}
}

// TestResultOrderStatusWithoutORC5: ORC-1 RE ("observations to follow")
// says that results come, not what became of the order; the IG's
// OrderControlCode[ServiceRequest.status] map gives RE no status. A
// result whose ORC-5 (order status) was empty wrote its order "active",
// so an order the lab had reported on in full stood open at the exchange
// (and overwrote the status the order message gave it); it is "unknown"
// now, and ORC-5, when sent, still decides.
func TestResultOrderStatusWithoutORC5(t *testing.T) {
	const oru = "MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||ORU^R01^ORU_R01|LAB-1|P|2.5.1\n" +
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
		"ORC|RE|ORD-5001^EPIC|L-9001^ACMELAB||%s\n" +
		"OBR|1|ORD-5001^EPIC|L-9001^ACMELAB|24331-1^Lipid panel^LN|||20261124075500||||||||||||||20261125100000|||F\n" +
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^^UCUM|<200|N|||F\n"
	for orc5, want := range map[string]string{"": "unknown", "CM": "completed", "IP": "active"} {
		b, _, err := testConverter(t).ConvertRaw([]byte(fmt.Sprintf(oru, orc5)))
		if err != nil {
			t.Fatal(err)
		}
		if sr, _, _ := serviceRequestURL(t, b); sr.Status != want {
			t.Errorf("ORC-1 RE, ORC-5 %q: order status %q, want %q", orc5, sr.Status, want)
		}
	}
}

// TestPlacerNumberScope holds the README's account of when the clinic's
// ORM and the lab's ORU key one order: a placer number with its namespace
// (EI.2) is the placer's whoever sends it; one that the ORU names by
// universal id and the ORM by namespace agrees once identifiers.systems
// maps the namespace; a bare number is the sending facility's, so the
// clinic's EHR forwarding the result keys the same order, and the lab
// sending it keys another (no rule tells a bare number's placer from the
// message: the receiver, MSH-6, is the gateway where the EHR forwards).
func TestPlacerNumberScope(t *testing.T) {
	orm := "MSH|^~\\&|EPIC|SPRINGCLINIC|LIS|ACMELAB|20261124080000||ORM^O01^ORM_O01|ORM-1|P|2.5.1\n" +
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
		"ORC|NW|%s\nOBR|1|%[1]s||24331-1^Lipid panel^LN\n"
	oru := "MSH|^~\\&|%s|%s|EPIC|SPRINGCLINIC|20261125101500||ORU^R01^ORU_R01|LAB-1|P|2.5.1\n" +
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
		"ORC|RE|%s|L-9001^ACMELAB||CM\n" +
		"OBR|1|%[3]s|L-9001^ACMELAB|24331-1^Lipid panel^LN|||20261124075500||||||||||||||20261125100000|||F\n"
	c := testConverter(t)
	c.Systems = map[string]string{"EPIC": "urn:oid:1.2.840.114350.1"}
	at := func(msg string) string {
		_, url, _ := serviceRequestURL(t, mustConvert(t, c, msg))
		return url
	}
	for _, tc := range []struct {
		name, ormNumber, app, fac, oruNumber string
		same                                 bool
	}{
		{"namespace", "ORD-5001^EPIC", "LIS", "ACMELAB", "ORD-5001^EPIC", true},
		{"namespace mapped to the OID", "ORD-5001^EPIC", "LIS", "ACMELAB", "ORD-5001^^1.2.840.114350.1^ISO", true},
		{"bare, forwarded by the EHR", "ORD-5001", "EPIC", "SPRINGCLINIC", "ORD-5001", true},
		{"bare, from the lab", "ORD-5001", "LIS", "ACMELAB", "ORD-5001", false},
	} {
		order := at(fmt.Sprintf(orm, tc.ormNumber))
		result := at(fmt.Sprintf(oru, tc.app, tc.fac, tc.oruNumber))
		if (order == result) != tc.same {
			t.Errorf("%s: order at %s, result's order at %s, want same %v", tc.name, order, result, tc.same)
		}
	}
}
