package fhir

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"unsafe"
)

// TestFreezeSameBytes: frozen values encode as encoding/json encodes
// them, wherever they are a field (pointer or slice), while copies, other
// lengths of a frozen slice and unfrozen values of the same type are
// encoded as usual; encoders run while values are frozen (-race).
func TestFreezeSameBytes(t *testing.T) {
	ptr := &CodeableConcept{Coding: []Coding{{System: "http://example.org/<&>", Code: "a\u2028b", Display: "A"}}, Text: "frozen"}
	cats := []CodeableConcept{{Coding: []Coding{{System: "s", Code: "c1"}}}, {Text: "two"}}
	mk := func(i int) *Observation {
		o := &Observation{ResourceType: "Observation", Status: "final", Code: *ptr}
		switch i % 4 {
		case 0:
			o.Category = cats
			o.ValueCodeableConcept = ptr
		case 1:
			o.Category = cats[:1] // another length: not the frozen slice
			cp := *ptr            // a copy: not the frozen pointer
			o.ValueCodeableConcept = &cp
		case 2:
			o.Category = cats[1:]
			o.DataAbsentReason = ptr
		default:
			o.Category = append([]CodeableConcept(nil), cats...)
		}
		return o
	}
	check := func(i int) {
		o := mk(i)
		want, err := json.Marshal(o)
		if err != nil {
			t.Error(err)
			return
		}
		got, err := Marshal(o)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("case %d: got %s (%v), want %s", i%4, got, err, want)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				check(g + i)
			}
		})
	}
	if err := Freeze(ptr); err != nil {
		t.Fatal(err)
	}
	if err := Freeze(cats); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range 4 {
		check(i)
	}
	if j := frozenJSON(unsafePointerOf(ptr), -1, planOf(typeOf(ptr).Elem()).st); j == nil {
		t.Error("the frozen pointer is not in the table")
	}
	for _, bad := range []any{(*CodeableConcept)(nil), []CodeableConcept{}, "x", []string{"a"}} {
		if Freeze(bad) == nil {
			t.Errorf("Freeze(%#v) took it", bad)
		}
	}
}

func unsafePointerOf(p *CodeableConcept) unsafe.Pointer { return unsafe.Pointer(p) }

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }
