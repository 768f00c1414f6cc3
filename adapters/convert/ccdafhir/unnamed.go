package ccdafhir

import (
	"reflect"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// dropUnnamedPractitioners leaves out the Practitioners the document
// gives no name, neither where they are named nor later (a participant
// by an id no description carries, see byID, or a person without a
// name): US Core Practitioner has name 1..*, and a Practitioner is
// written whole, so one without a name would be refused by a validating
// exchange or take away the name it holds for the doctor. What refers to
// one refers to the doctor by the identifier instead, as the HL7 v2
// converter's references to a doctor given by id alone do.
func (c *converter) dropUnnamedPractitioners() {
	var by map[string]*fhir.Identifier
	kept := c.entries["Practitioner"][:0]
	for _, e := range c.entries["Practitioner"] {
		p, _ := e.Resource.(*fhir.Practitioner)
		if p == nil || len(p.Name) > 0 || len(p.Identifier) == 0 {
			kept = append(kept, e)
			continue
		}
		if by == nil {
			by = map[string]*fhir.Identifier{}
		}
		id := &fhir.Identifier{System: p.Identifier[0].System, Value: p.Identifier[0].Value}
		by[e.FullURL] = id
		by["Practitioner/"+strings.TrimPrefix(e.FullURL, "urn:uuid:")] = id
	}
	if by == nil {
		return
	}
	c.entries["Practitioner"] = kept
	for _, es := range c.entries {
		for _, e := range es {
			byIdentifier(reflect.ValueOf(e.Resource), by)
		}
	}
}

var referenceType = reflect.TypeFor[fhir.Reference]()

// byIdentifier makes each Reference in v to a key of by a reference to
// a Practitioner by that identifier.
func byIdentifier(v reflect.Value, by map[string]*fhir.Identifier) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			byIdentifier(v.Elem(), by)
		}
	case reflect.Slice:
		for i := range v.Len() {
			byIdentifier(v.Index(i), by)
		}
	case reflect.Struct:
		if v.Type() == referenceType {
			if !v.CanAddr() {
				return
			}
			if r := v.Addr().Interface().(*fhir.Reference); r.Reference != "" {
				if id, ok := by[r.Reference]; ok {
					r.Reference, r.Type, r.Identifier = "", "Practitioner", id
				}
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				byIdentifier(v.Field(i), by)
			}
		}
	}
}
