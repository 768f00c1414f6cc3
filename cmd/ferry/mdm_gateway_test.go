package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGatewayDocumentLifecycle: MDM messages that change an earlier
// document leave the exchange as an exchange's engineer expects, through
// the whole gateway (MLLP, queue, mTLS delivery): a status change without
// content (T03) moves the stored document's docStatus; a replacement
// (T10) is stored and its parent becomes superseded; a cancel (T11) makes
// the cancelled document entered-in-error; an edit (T08) rewrites the
// document in place. A replacement of a document the exchange never got
// is delivered, and its PATCH's 404 counts as done: no dead letter. A
// cancel of a document the exchange never got is one dead letter: the
// withdrawal of a misfiled document that could not be applied is for a
// person to see.
func TestGatewayDocumentLifecycle(t *testing.T) {
	paths, recv, url := testPKI(t)
	gw := startTestGateway(t, t.TempDir(), recv, paths, url)
	conn, rd := dial(t, gw)
	mdm := func(trigger, ctl, txa12, txa13, txa17, txa19, text string) string {
		structure := "MDM_T02"
		if text == "" {
			structure = "MDM_T01"
		}
		m := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||MDM^" + trigger + "^" + structure + "|" + ctl + "|P|2.5.1\r" +
			"EVN|" + trigger + "|20261125083000\r" +
			"PID|1||MRN-D1^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
			"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "|" + txa13 + "||||" + txa17 + "||" + txa19 + "\r"
		if text != "" {
			m += "OBX|1|TX|11506-3^Progress note^LN||" + text + "||||||F\r"
		}
		return m
	}
	for _, m := range []string{
		mdm("T02", "M-1", "DOC-1^EHR", "", "IP", "AV", "First draft."),
		mdm("T03", "M-2", "DOC-1^EHR", "", "AU", "AV", ""),
		mdm("T10", "M-3", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", "Corrected note."),
		mdm("T02", "M-4", "DOC-3^EHR", "", "AU", "AV", "Wrong chart."),
		mdm("T11", "M-5", "DOC-3^EHR", "", "AU", "CA", ""),
		mdm("T08", "M-6", "DOC-2^EHR", "", "AU", "AV", "Corrected note, edited."),
		mdm("T10", "M-7", "DOC-5^EHR", "DOC-4^EHR", "AU", "AV", "Replaces one sent before ferry."),
		mdm("T11", "M-8", "DOC-6^EHR", "", "AU", "CA", ""),
	} {
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("MSA-1 %s, want AA", got)
		}
	}
	waitFor(t, "queue to drain", func() bool { return gw.q.Len() == 0 })
	dls, err := gw.q.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].Attrs["control_id"] != "M-8" || !strings.Contains(dls[0].Reason, "404") {
		for _, d := range dls {
			t.Logf("dead letter %s: %s", d.Attrs["control_id"], d.Reason)
		}
		t.Fatalf("%d dead letters, want the one cancel of a document the exchange never got", len(dls))
	}
	type docRef struct {
		Status           string `json:"status"`
		DocStatus        string `json:"docStatus"`
		MasterIdentifier struct {
			Value string `json:"value"`
		} `json:"masterIdentifier"`
		RelatesTo []struct {
			Code string `json:"code"`
		} `json:"relatesTo"`
		Content []struct {
			Attachment struct {
				Data []byte `json:"data"`
			} `json:"attachment"`
		} `json:"content"`
	}
	got := map[string]docRef{}
	for _, raw := range recv.Resources("DocumentReference") {
		var d docRef
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[d.MasterIdentifier.Value]; dup {
			t.Errorf("two DocumentReferences for %s", d.MasterIdentifier.Value)
		}
		got[d.MasterIdentifier.Value] = d
	}
	want := map[string][2]string{ // status, docStatus
		"DOC-1": {"superseded", "final"},
		"DOC-2": {"current", "final"},
		"DOC-3": {"entered-in-error", "final"},
		"DOC-5": {"current", "final"},
	}
	if len(got) != len(want) {
		t.Errorf("%d DocumentReferences at the exchange, want %d", len(got), len(want))
	}
	for id, w := range want {
		d := got[id]
		if d.Status != w[0] || d.DocStatus != w[1] {
			t.Errorf("%s: status %q docStatus %q, want %q %q", id, d.Status, d.DocStatus, w[0], w[1])
		}
	}
	if d := got["DOC-2"]; len(d.Content) != 1 || string(d.Content[0].Attachment.Data) != "Corrected note, edited." {
		t.Errorf("DOC-2 after its edit: content %v", d.Content)
	}
	if d := got["DOC-5"]; len(d.RelatesTo) != 1 || d.RelatesTo[0].Code != "replaces" {
		t.Errorf("DOC-5: relatesTo %v", d.RelatesTo)
	}
}
