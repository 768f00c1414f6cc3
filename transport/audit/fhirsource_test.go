package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestFHIRGatewayAgentIsObserver: IHE MHD's ITI-65 audit profiles
// (IHE.MHD.ProvideBundle.Audit.Source and .Recipient) and BALP constrain
// the agent that is the audit source itself with val-audit-source, "The
// Audit Source is this agent too": $this.who = %resource.source.observer.
// FHIRPath equality of two References compares every child, so the
// gateway's agent.who must carry what source.observer carries, display
// included, or every ITI-65 event fails the profile.
func TestFHIRGatewayAgentIsObserver(t *testing.T) {
	now := time.Now()
	events := map[string]Event{
		"export mhd": ExportEvent(Export{Gateway: "1.2.840.99.1", GatewayAddr: "clinic-gw", ExchangeURL: "https://hie.example/fhir",
			ExchangeAddr: "hie.example", MHD: true, PatientID: PatientID{System: "urn:oid:1.2.3", Value: "MRN1"},
			SubmissionSet: "urn:oid:1.2.3.4", BundleID: "01B", Time: now}),
		"import": ImportEvent(Import{Sender: "LAB^FAC", SenderAddr: "10.0.0.5", Gateway: "1.2.840.99.1", GatewayAddr: "clinic-gw",
			Format: "hl7v2", MessageType: "ORU^R01", ControlID: "C1", Input: "sha256:00", Time: now}),
	}
	for name, ev := range events {
		ev.AuditSourceID = "1.2.840.99.1"
		b, err := ev.FHIR()
		if err != nil {
			t.Fatal(err)
		}
		var ae struct {
			Agent []struct {
				Who map[string]any `json:"who"`
			} `json:"agent"`
			Source struct {
				Observer map[string]any `json:"observer"`
			} `json:"source"`
		}
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range ae.Agent {
			id, _ := a.Who["identifier"].(map[string]any)
			if id["value"] != ev.AuditSourceID {
				continue
			}
			found = true
			if !reflect.DeepEqual(a.Who, ae.Source.Observer) {
				t.Errorf("%s: the gateway's agent.who %v is not source.observer %v", name, a.Who, ae.Source.Observer)
			}
		}
		if !found {
			t.Errorf("%s: no agent is the audit source\n%s", name, b)
		}
	}
}
