package ccdafhir

import (
	"encoding/xml"
	"strings"
	"unicode/utf8"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// maxNarrativeIDs bounds the per-section index of narrative IDs.
const maxNarrativeIDs = 10000

// Each open element with an ID gets every character of the text inside
// it, so elements nested in one another would cost the square of their
// number: maxOpenNarrativeIDs bounds how many are gathered at once (a
// narrative nests a few: a row, a cell, a span; deeper ones go without
// an index entry), and maxNarrativeText the text each one keeps.
const (
	maxOpenNarrativeIDs = 8
	maxNarrativeText    = 64 << 10
)

// narrative reads a section's <text> block. It keeps only the text of
// elements carrying an ID attribute, which entries point at with
// originalText/reference value="#id" (often the only text a coded value
// has); the rest of the narrative is read past.
func (c *converter) narrative(d *xml.Decoder) (map[string]string, error) {
	type open struct {
		id    string
		depth int
		b     strings.Builder
	}
	var (
		stack []*open
		out   map[string]string
		depth int
	)
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, &PathError{Path: c.path("text"), Err: xmlError(err)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			for _, a := range t.Attr {
				if a.Name.Local == "ID" && a.Value != "" && len(stack) < maxOpenNarrativeIDs {
					stack = append(stack, &open{id: a.Value, depth: depth})
					break
				}
			}
			// Table cells and paragraphs separate words.
			for _, o := range stack {
				if o.b.Len() < maxNarrativeText {
					o.b.WriteByte(' ')
				}
			}
		case xml.CharData:
			for _, o := range stack {
				if room := maxNarrativeText - o.b.Len(); room > 0 {
					o.b.Write(upTo(t, room))
				}
			}
		case xml.EndElement:
			if depth == 0 {
				return out, nil
			}
			if n := len(stack); n > 0 && stack[n-1].depth == depth {
				o := stack[n-1]
				stack = stack[:n-1]
				if out == nil {
					out = make(map[string]string)
				}
				if len(out) < maxNarrativeIDs {
					out[o.id] = clean(strings.TrimSpace(o.b.String()))
				}
			}
			depth--
		}
	}
}

// upTo is b cut to at most n bytes, not inside a UTF-8 sequence.
func upTo(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// lookup resolves a "#id" reference against the section narrative.
func (c *converter) lookup(ref *tel) string {
	if ref == nil || c.narr == nil {
		return ""
	}
	return c.narr[strings.TrimPrefix(strings.TrimSpace(ref.Value), "#")]
}

// resolveED fills an empty ED from its narrative reference.
func (c *converter) resolveED(e *ed) {
	if e != nil && strings.TrimSpace(e.Text) == "" && e.Reference != nil {
		e.Text = c.lookup(e.Reference)
	}
}

// resolveCD fills originalText of a code from the narrative.
func (c *converter) resolveCD(x *cd) {
	if x != nil {
		c.resolveED(x.OriginalText)
	}
}

// resolveAct fills narrative references throughout a clinical statement
// and the statements nested in it.
func (c *converter) resolveAct(a *act) {
	if a == nil || c.narr == nil {
		return
	}
	c.resolveCD(a.Code)
	c.resolveED(a.Text)
	c.resolveCD(a.RouteCode)
	for _, cs := range [][]cd{a.InterpretationCode, a.MethodCode, a.TargetSiteCode, a.ApproachSiteCode} {
		for i := range cs {
			c.resolveCD(&cs[i])
		}
	}
	for i := range a.Value {
		v := &a.Value[i]
		c.resolveED(v.OriginalText)
		if strings.TrimSpace(v.Text) == "" && v.Reference != nil {
			v.Text = c.lookup(v.Reference)
		}
	}
	for i := range a.ReferenceRange {
		if or := a.ReferenceRange[i].ObservationRange; or != nil {
			c.resolveED(or.Text)
		}
	}
	for i := range a.Participant {
		if pr := a.Participant[i].ParticipantRole; pr != nil && pr.PlayingEntity != nil {
			c.resolveCD(pr.PlayingEntity.Code)
		}
	}
	for _, h := range []*productHolder{a.Consumable, a.Product} {
		if h != nil && h.ManufacturedProduct != nil && h.ManufacturedProduct.ManufacturedMaterial != nil {
			c.resolveCD(h.ManufacturedProduct.ManufacturedMaterial.Code)
		}
	}
	for i := range a.EntryRelationship {
		s, _ := a.EntryRelationship[i].statement()
		c.resolveAct(s)
	}
	for i := range a.Component {
		s, _ := a.Component[i].statement()
		c.resolveAct(s)
	}
	for i := range a.Precondition {
		c.resolveAct(a.Precondition[i].Criterion)
	}
}

// tplComment is the Comment Activity template.
const tplComment = "2.16.840.1.113883.10.20.22.4.64"

// notes collects Comment Activity texts as annotations.
func notes(a *act) []fhir.Annotation {
	var out []fhir.Annotation
	related(a, func(_ int, _ *relationship, x *act, el string) {
		if el == "act" && hasTemplate(x.TemplateID, tplComment) && x.Text != nil {
			if s := clean(strings.TrimSpace(x.Text.Text)); s != "" {
				out = append(out, fhir.Annotation{Text: s})
			}
		}
	})
	return out
}
