package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// textCode has a TextMarshaler, so a plan must hand it to encoding/json.
type textCode string

func (c textCode) MarshalText() ([]byte, error) { return []byte("T:" + string(c)), nil }

// ptrMarshaler implements json.Marshaler on its pointer only.
type ptrMarshaler struct{ N int }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"ptr":true}`), nil }

// shapes has every field shape the struct plan handles inline, both with
// and without omitempty (the non-omitempty ones write null, [] or "" for
// an empty value), plus the ones it leaves to other encoders.
type shapes struct {
	S      string             `json:"s"`
	SO     string             `json:"so,omitempty"`
	N      json.Number        `json:"n"`
	NO     json.Number        `json:"no,omitempty"`
	B      bool               `json:"b"`
	BO     bool               `json:"bo,omitempty"`
	St     Coding             `json:"st"`
	StO    Coding             `json:"sto,omitempty"`
	P      *Coding            `json:"p"`
	PO     *Coding            `json:"po,omitempty"`
	Ss     []Coding           `json:"ss"`
	SsO    []Coding           `json:"sso,omitempty"`
	Str    []string           `json:"str"`
	StrO   []string           `json:"stro,omitempty"`
	A      any                `json:"a"`
	AO     any                `json:"ao,omitempty"`
	By     []byte             `json:"by"`
	ByO    []byte             `json:"byo,omitempty"`
	PB     *bool              `json:"pb"`
	PBO    *bool              `json:"pbo,omitempty"`
	I      int                `json:"i"`
	IO     int                `json:"io,omitempty"`
	I64O   int64              `json:"i64o,omitempty"`
	T      textCode           `json:"t"`
	TO     textCode           `json:"to,omitempty"`
	Ts     []textCode         `json:"ts,omitempty"`
	PM     ptrMarshaler       `json:"pm"`
	PMs    []ptrMarshaler     `json:"pms,omitempty"`
	PMP    *ptrMarshaler      `json:"pmp,omitempty"`
	Raw    json.RawMessage    `json:"raw,omitempty"`
	M      map[string]int     `json:"m,omitempty"`
	F      float64            `json:"f,omitempty"`
	Nums   []json.Number      `json:"nums,omitempty"`
	Self   *shapes            `json:"self,omitempty"`
	Selfs  []shapes           `json:"selfs,omitempty"`
	Strs   [][]string         `json:"strs,omitempty"`
	PS     *string            `json:"ps,omitempty"`
	Arr    [2]string          `json:"arr"`
	Map    map[string]*Coding `json:"map"`
	hidden string
	Dash   string `json:"-"`
	NoTag  string
	BadTag string `json:"a\"b,omitempty"`
	Long   string `json:"aFieldNameLongerThanThirtyTwoBytes"`
}

// TestMarshalShapes: every field shape, empty, nil and filled, gives
// encoding/json's bytes, by pointer and by value.
func TestMarshalShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 2000; i++ {
		var v shapes
		fill(r, reflect.ValueOf(&v).Elem(), 0)
		switch i % 4 { // values fill does not produce
		case 0:
			v.Ss, v.Str, v.By, v.SsO, v.StrO, v.ByO = []Coding{}, []string{}, []byte{}, []Coding{}, []string{}, []byte{}
		case 1:
			v.Self = &shapes{S: "inner", Selfs: []shapes{{N: "1"}}}
			v.A = Coding{Code: "by value"}
		case 2:
			v.AO, v.PMP, v.M = 0, &ptrMarshaler{}, map[string]int{"k<": 1}
		}
		// A json.Marshaler's own bytes keep encoding/json's escapes of
		// control characters, so both sides are compared with them as
		// spaces (controlsAsSpaces).
		want, werr := json.Marshal(&v)
		want = controlsAsSpaces(want)
		got, gerr := Marshal(&v)
		got = controlsAsSpaces(got)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("error mismatch: encoding/json %v, fhir %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("differs:\n got %s\nwant %s", got, want)
		}
		// Appending to a short buffer (every key and string write grows
		// it) and after existing bytes gives the same.
		if werr == nil {
			got, _ := AppendJSON(make([]byte, 3, 3+i%40), &v)
			if !bytes.Equal(controlsAsSpaces(got[3:]), want) {
				t.Fatalf("appended differs:\n got %s\nwant %s", got[3:], want)
			}
		}
	}
	if _, err := Marshal(&shapes{N: "1x"}); err == nil {
		t.Error("invalid json.Number: no error")
	}
}

// TestMarshalConcurrentFirstUse: plans built by goroutines racing on a
// type's first use are complete and correct for all of them (run with
// -race).
func TestMarshalConcurrentFirstUse(t *testing.T) {
	type inner struct {
		X []inner `json:"x,omitempty"`
		Y string  `json:"y"`
	}
	type outer struct {
		In  []inner `json:"in"`
		Ptr *outer  `json:"ptr,omitempty"`
	}
	v := &outer{In: []inner{{Y: "a", X: []inner{{Y: "b"}}}}, Ptr: &outer{}}
	want, _ := json.Marshal(v)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			got, err := Marshal(v)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("got %s, %v; want %s", got, err, want)
			}
		})
	}
	wg.Wait()
}

// TestAppendBase64: every length around the six-byte steps and random
// bytes, after existing bytes, as encoding/base64 writes them.
func TestAppendBase64(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := 0; n < 200; n++ {
		for k := 0; k < 20; k++ {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(r.IntN(256))
			}
			want := base64.StdEncoding.AppendEncode([]byte("x"), src)
			if got := appendBase64([]byte("x"), src); !bytes.Equal(got, want) {
				t.Fatalf("%x: got %s, want %s", src, got, want)
			}
		}
	}
}
