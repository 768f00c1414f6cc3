package v2fhir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func readCase(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// entryOf returns the one entry whose resource has type T, failing when
// there is not exactly one.
func entryOf[T any](t *testing.T, b *fhir.Bundle) (fhir.BundleEntry, T) {
	t.Helper()
	var found []fhir.BundleEntry
	var res []T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(T); ok {
			found = append(found, e)
			res = append(res, r)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d entries of %T, want 1", len(found), zero)
	}
	return found[0], res[0]
}

// TestReferralLifecycle: I12, I13 and I14 for one referral write one
// ServiceRequest (same request URL and identifiers in every write mode),
// the modification changes it and the cancellation revokes it; converting
// a message again gives the same bytes.
func TestReferralLifecycle(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			var urls []string
			var statuses, priorities []string
			for _, name := range []string{"v2-ref-i12", "v2-ref-i13", "v2-ref-i14"} {
				raw := readCase(t, name)
				b, res, err := c.ConvertRaw(raw)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				js := marshal(t, b)
				strictR4(t, js)
				again, _, err := c.ConvertRaw(raw)
				if err != nil || !bytes.Equal(js, marshal(t, again)) {
					t.Errorf("%s: converting again gives another bundle (%v)", name, err)
				}
				if res.PatientKey == "" {
					t.Errorf("%s: no patient key", name)
				}
				e, sr := entryOf[*fhir.ServiceRequest](t, b)
				if e.Request.Method != "PUT" {
					t.Errorf("%s: %s %s, want an update", name, e.Request.Method, e.Request.URL)
				}
				urls = append(urls, e.Request.URL)
				statuses = append(statuses, sr.Status)
				priorities = append(priorities, sr.Priority)
				if sr.Intent != "order" || len(sr.Identifier) != 2 || sr.Identifier[0].Value != "RF-2026-0042" {
					t.Errorf("%s: intent %q identifiers %+v", name, sr.Intent, sr.Identifier)
				}
				if sr.Requester == nil || len(sr.Performer) != 1 || len(sr.ReasonReference) != 2 || len(sr.Insurance) != 1 || len(sr.SupportingInfo) != 2 {
					t.Errorf("%s: requester %v performer %v reasons %v insurance %v supporting %v", name, sr.Requester, sr.Performer, sr.ReasonReference, sr.Insurance, sr.SupportingInfo)
				}
				if mode == ModeConditional && !strings.HasPrefix(e.Request.URL, "ServiceRequest?identifier=") {
					t.Errorf("%s: conditional mode writes %s", name, e.Request.URL)
				}
			}
			if urls[0] != urls[1] || urls[1] != urls[2] {
				t.Errorf("I12/I13/I14 write different resources: %q", urls)
			}
			if want := []string{"active", "active", "revoked"}; !slices.Equal(statuses, want) {
				t.Errorf("statuses %q, want %q", statuses, want)
			}
			if want := []string{"routine", "asap", "asap"}; !slices.Equal(priorities, want) {
				t.Errorf("priorities %q, want %q", priorities, want)
			}
		})
	}
}

// TestProblemLifecycle: PC1, PC2 and PC3 for one problem (PRB-4) write one
// Condition; the update resolves it, the deletion marks it
// entered-in-error without a clinical status (con-5) rather than deleting
// it.
func TestProblemLifecycle(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			var urls []string
			var conds []*fhir.Condition
			for _, name := range []string{"v2-ppr-pc1", "v2-ppr-pc2", "v2-ppr-pc3"} {
				raw := readCase(t, name)
				b, _, err := c.ConvertRaw(raw)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				js := marshal(t, b)
				strictR4(t, js)
				again, _, _ := c.ConvertRaw(raw)
				if !bytes.Equal(js, marshal(t, again)) {
					t.Errorf("%s: converting again gives another bundle", name)
				}
				e, cond := entryOf[*fhir.Condition](t, b)
				if e.Request.Method != "PUT" {
					t.Errorf("%s: %s %s, want an update", name, e.Request.Method, e.Request.URL)
				}
				urls = append(urls, e.Request.URL)
				conds = append(conds, cond)
				if len(cond.Category) == 0 || cond.Category[0].Coding[0].Code != "problem-list-item" {
					t.Errorf("%s: category %+v", name, cond.Category)
				}
			}
			if urls[0] != urls[1] || urls[1] != urls[2] {
				t.Errorf("PC1/PC2/PC3 write different resources: %q", urls)
			}
			code := func(cc *fhir.CodeableConcept) string {
				if cc == nil {
					return ""
				}
				return cc.Coding[0].Code
			}
			add, upd, del := conds[0], conds[1], conds[2]
			if code(add.ClinicalStatus) != "active" || code(add.VerificationStatus) != "confirmed" || add.Recorder == nil ||
				len(add.Evidence) != 1 || len(add.Evidence[0].Detail) != 1 || len(add.Note) != 1 {
				t.Errorf("PC1: %+v", add)
			}
			if code(upd.ClinicalStatus) != "resolved" || upd.AbatementDateTime != "2027-02-15" {
				t.Errorf("PC2: status %s abatement %q", code(upd.ClinicalStatus), upd.AbatementDateTime)
			}
			if del.ClinicalStatus != nil || code(del.VerificationStatus) != "entered-in-error" {
				t.Errorf("PC3: clinical %v verification %s", del.ClinicalStatus, code(del.VerificationStatus))
			}
		})
	}
}

// TestProblemStatuses covers the PRB status fields: life cycle from
// PRB-14 (or PRB-13 when a sender puts it there), a resolution date
// without a status, an active problem with an old resolution date, an
// unchanged problem that is only referred to.
func TestProblemStatuses(t *testing.T) {
	const head = "MSH|^~\\&|EHR|CLINIC|||20240101||PPR^PC2|P1|P|2.5.1\rPID|1||7^^^HOSP^MR||Doe^Jo\r"
	cases := []struct {
		name, prb               string
		clinical, verif, abated string
		written                 bool
	}{
		{"life cycle in PRB-13", "PRB|UP|20240101|I10^Hypertension^I10|P-1|||||||||Resolved", "resolved", "", "", true},
		{"resolution date alone", "PRB|UP|20240101|I10^Hypertension^I10|P-1|||||20231201", "resolved", "", "2023-12-01", true},
		{"recurred", "PRB|UP|20240101|I10^Hypertension^I10|P-1|||||20231201|||||recurrence", "recurrence", "", "", true},
		{"no status", "PRB|UP|20240101|I10^Hypertension^I10|P-1", "active", "", "", true},
		{"refuted", "PRB|UP|20240101|I10^Hypertension^I10|P-1|||||||||refuted^Refuted|inactive", "inactive", "refuted", "", true},
		{"unchanged", "PRB|UC|20240101|I10^Hypertension^I10|P-1", "active", "", "", false},
		// R4's con-4: an abatement needs a clinical status of resolved,
		// remission or inactive, which entered-in-error may not have.
		{"deleted with a resolution date", "PRB|DE|20240101|I10^Hypertension^I10|P-1|||||20231201", "", "entered-in-error", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConverter(t)
			b, _, err := c.ConvertRaw([]byte(head + tc.prb + "\r"))
			if err != nil {
				t.Fatal(err)
			}
			strictR4(t, marshal(t, b))
			var cond *fhir.Condition
			for _, e := range b.Entry {
				if r, ok := e.Resource.(*fhir.Condition); ok {
					cond = r
				}
			}
			if (cond != nil) != tc.written {
				t.Fatalf("Condition written: %v, want %v", cond != nil, tc.written)
			}
			if !tc.written {
				return
			}
			got := func(cc *fhir.CodeableConcept) string {
				if cc == nil {
					return ""
				}
				return cc.Coding[0].Code
			}
			if got(cond.ClinicalStatus) != tc.clinical || got(cond.VerificationStatus) != tc.verif || cond.AbatementDateTime != tc.abated {
				t.Errorf("clinical %q verification %q abatement %q, want %q %q %q",
					got(cond.ClinicalStatus), got(cond.VerificationStatus), cond.AbatementDateTime, tc.clinical, tc.verif, tc.abated)
			}
		})
	}
}

// TestReferralAndProblemErrors: required segments and fields are refused
// with a ContentError naming them (ERR-3 100 for a segment, 101 for a
// field, 102 for a value of the wrong type).
func TestReferralAndProblemErrors(t *testing.T) {
	const ref = "MSH|^~\\&|EHR|CLINIC|||20240101||REF^I12|R1|P|2.5.1\r"
	const ppr = "MSH|^~\\&|EHR|CLINIC|||20240101||PPR^PC1|P1|P|2.5.1\r"
	const pid = "PID|1||7^^^HOSP^MR||Doe^Jo\r"
	cases := []struct{ in, field, code string }{
		{ref + pid, "RF1", "100"},
		{ref + "RF1|P\r", "PID", "100"},
		{ref + "RF1|P|R\r" + pid, "RF1-6", "101"},
		{ref + "RF1|P|R||||R-1|2024133\r" + pid, "RF1-7", "102"},
		{ref + "RF1|P|R||||R-1\rPRD|RP|Doe^Al|||||9^SL^^20241399\r" + pid, "PRD-7", "102"},
		{ppr + pid, "PRB", "100"},
		{ppr + pid + "PRB|AD|20240101||P-1\r", "PRB-3", "101"},
		{ppr + pid + "PRB|AD|20240101|I10^Hypertension^I10\r", "PRB-4", "101"},
		{ppr + pid + "PRB|XX|20240101|I10^Hypertension^I10|P-1\r", "PRB-1", "102"},
		{ppr + pid + "PRB|AD|20240101|I10^Hypertension^I10|P-1||||||||||||20241301\r", "PRB-16", "102"},
	}
	c := testConverter(t)
	for _, tc := range cases {
		_, _, err := c.ConvertRaw([]byte(tc.in))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Code() != tc.code {
			t.Errorf("%q: error %v, want ContentError on %s (ERR-3 %s)", tc.in, err, tc.field, tc.code)
		}
	}
}

// TestReferralStatusRequestRefused: REF^I15 is refused as an unsupported
// trigger event with its reason, and Supported does not list it.
func TestReferralStatusRequestRefused(t *testing.T) {
	c := testConverter(t)
	_, res, err := c.ConvertRaw([]byte("MSH|^~\\&|EHR|CLINIC|||20240101||REF^I15^REF_I12|R9|P|2.5.1\rRF1|P|R||||R-1\rPID|1||7^^^HOSP^MR||Doe^Jo\r"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "status request") || !strings.Contains(err.Error(), "trigger event") {
		t.Errorf("REF^I15: %v", err)
	}
	if res.MessageType != "REF^I15" || res.ControlID != "R9" {
		t.Errorf("result %+v", res)
	}
	sup := Supported()
	for _, want := range []string{"REF^I12", "REF^I13", "REF^I14", "PPR^PC1", "PPR^PC2", "PPR^PC3"} {
		if !slices.Contains(sup, want) {
			t.Errorf("Supported() lacks %s", want)
		}
	}
	if slices.Contains(sup, "REF^I15") {
		t.Error("Supported() lists REF^I15")
	}
}

// TestCorpusReferralsAndProblems: the shared corpus's referrals and
// problem messages (when present) convert to valid R4, the same each
// time.
func TestCorpusReferralsAndProblems(t *testing.T) {
	var files []string
	for _, p := range []string{"REF-*.hl7", "PC1-Problem-*.hl7"} {
		m, _ := filepath.Glob("../../../../shared/corpus/hl7v2/" + p)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("shared corpus not present")
	}
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := c.ConvertRaw(raw)
			if err != nil {
				t.Errorf("%s (%s): %v", filepath.Base(f), mode, err)
				continue
			}
			js := marshal(t, b)
			strictR4(t, js)
			again, _, _ := c.ConvertRaw(raw)
			if !bytes.Equal(js, marshal(t, again)) {
				t.Errorf("%s (%s): not deterministic", filepath.Base(f), mode)
			}
		}
	}
}
