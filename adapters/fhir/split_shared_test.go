package fhir

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func urn(n int) string { return fmt.Sprintf("urn:uuid:00000000-0000-5000-8000-%012d", n) }

// condPatient is a conditional Patient entry (fullUrl urn(n)) that links
// to the given fullUrls.
func condPatient(n int, links ...string) BundleEntry {
	p := &Patient{ResourceType: "Patient", Identifier: []Identifier{{System: "urn:s", Value: fmt.Sprint(n)}}}
	for _, l := range links {
		p.Link = append(p.Link, PatientLink{Other: Reference{Reference: l}, Type: "seealso"})
	}
	return BundleEntry{FullURL: urn(n), Resource: p, Request: &BundleRequest{Method: "PUT", URL: "Patient?identifier=urn%3As%7C" + fmt.Sprint(n)}}
}

// obs is a PUT Observation/<id> entry whose subject is ref ("" for none).
func obs(n int, ref string) BundleEntry {
	id := urn(n)[len("urn:uuid:"):]
	o := &Observation{ResourceType: "Observation", ID: id, Status: "final"}
	if ref != "" {
		o.Subject = &Reference{Reference: ref}
	}
	return BundleEntry{FullURL: urn(n), Resource: o, Request: &BundleRequest{Method: "PUT", URL: "Observation/" + id}}
}

func layout(parts []*Bundle) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(" | ")
		}
		for j, e := range p.Entry {
			if j > 0 {
				b.WriteByte(' ')
			}
			if Conditional(e) {
				b.WriteString("P")
			} else {
				b.WriteString("o")
			}
			b.WriteString(strings.TrimLeft(e.FullURL[len(e.FullURL)-3:], "0"))
		}
	}
	return b.String()
}

func TestSplitShared(t *testing.T) {
	p1, p2 := urn(1), urn(2)
	cases := []struct {
		name    string
		entries []BundleEntry
		max     int
		want    string
	}{
		{"fits", []BundleEntry{condPatient(1), obs(10, p1), obs(11, p1)}, 3, "P1 o10 o11"},
		{"patient repeated where referred to", []BundleEntry{
			condPatient(1), obs(10, p1), obs(11, p1), obs(12, ""), obs(13, ""), obs(14, p1),
		}, 3, "P1 o10 o11 | o12 o13 | P1 o14"},
		{"linked patients travel together", []BundleEntry{
			condPatient(1, p2), condPatient(2, p1), obs(10, p2), obs(11, ""), obs(12, ""), obs(13, p1),
		}, 4, "P1 P2 o10 o11 | P1 P2 o12 o13"},
		{"unreferenced conditional entry written once", []BundleEntry{
			condPatient(1), obs(10, ""), obs(11, ""), obs(12, ""), obs(13, ""),
		}, 3, "o10 o11 o12 | P1 o13"},
		{"the default cap", append([]BundleEntry{condPatient(1)}, func() []BundleEntry {
			var es []BundleEntry
			for i := 10; i < 25; i++ {
				es = append(es, obs(i, p1))
			}
			return es
		}()...), 0, "P1 o10 o11 o12 o13 o14 o15 o16 | P1 o17 o18 o19 o20 o21 o22 o23 | P1 o24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &Bundle{ResourceType: "Bundle", Type: "transaction", Identifier: &Identifier{System: "urn:m", Value: "M1"}, Entry: tc.entries}
			parts, err := SplitShared(b, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if got := layout(parts); got != tc.want {
				t.Errorf("parts\n got: %s\nwant: %s", got, tc.want)
			}
			for i, p := range parts {
				if len(parts) > 1 && p.Identifier.Value != fmt.Sprintf("M1#%d/%d", i+1, len(parts)) {
					t.Errorf("part %d identifier %s", i, p.Identifier.Value)
				}
			}
			if b.Identifier.Value != "M1" {
				t.Error("the whole bundle's identifier changed")
			}
		})
	}
}

func TestSplitSharedTooManyPatients(t *testing.T) {
	var es []BundleEntry
	prov := &Provenance{ResourceType: "Provenance", ID: "00000000-0000-5000-8000-000000000099"}
	for i := 1; i <= 3; i++ {
		es = append(es, condPatient(i))
		prov.Target = append(prov.Target, Reference{Reference: urn(i)})
	}
	es = append(es, obs(10, ""), BundleEntry{FullURL: urn(99), Resource: prov, Request: &BundleRequest{Method: "PUT", URL: "Provenance/" + prov.ID}})
	_, err := SplitShared(&Bundle{ResourceType: "Bundle", Type: "transaction", Entry: es}, 3)
	if !errors.Is(err, ErrNotSplittable) {
		t.Fatalf("got %v, want ErrNotSplittable", err)
	}
}

func TestConditional(t *testing.T) {
	for _, c := range []struct {
		r    BundleRequest
		want bool
	}{
		{BundleRequest{Method: "PUT", URL: "Patient/1"}, false},
		{BundleRequest{Method: "PUT", URL: "Patient?identifier=a%7Cb"}, true},
		{BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=a%7Cb"}, true},
		{BundleRequest{Method: "POST", URL: "Patient"}, false},
	} {
		if got := Conditional(BundleEntry{Request: &c.r}); got != c.want {
			t.Errorf("%+v: %v", c.r, got)
		}
	}
	if Conditional(BundleEntry{}) {
		t.Error("an entry without a request is not conditional")
	}
}

// TestSplitSharingAll: every part carries the conditional entries, whether
// its other entries name them or not, within the cap and in order.
func TestSplitSharingAll(t *testing.T) {
	p1 := urn(1)
	cases := []struct {
		name    string
		entries []BundleEntry
		max     int
		want    string
	}{
		{"fits", []BundleEntry{condPatient(1), obs(10, p1), obs(11, "")}, 3, "P1 o10 o11"},
		{"patient in every part", []BundleEntry{
			condPatient(1), obs(10, p1), obs(11, p1), obs(12, ""), obs(13, ""), obs(14, p1),
		}, 3, "P1 o10 o11 | P1 o12 o13 | P1 o14"},
		{"no conditional entry", []BundleEntry{obs(10, ""), obs(11, ""), obs(12, "")}, 2, "o10 o11 | o12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &Bundle{ResourceType: "Bundle", Type: "transaction", Identifier: &Identifier{System: "urn:m", Value: "M1"}, Entry: tc.entries}
			parts, err := SplitSharingAll(b, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if got := layout(parts); got != tc.want {
				t.Errorf("parts\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}
