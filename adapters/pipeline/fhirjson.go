package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// FHIRJSON passes FHIR JSON drops on: a transaction or batch Bundle goes as
// it is; a single resource (or each line of NDJSON) is wrapped in a
// transaction. Resources with an id are written as PUT Type/id, so a
// re-dropped export is harmless; resources without one are POSTed, with
// ifNoneExist on their first identifier when they have one.
type FHIRJSON struct{}

var _ Converter = FHIRJSON{}

// Convert reads in.Body (or streams in.Open for large NDJSON files).
func (FHIRJSON) Convert(_ context.Context, in adapters.Raw) ([]Unit, error) {
	if in.Format == "fhir-ndjson" {
		return convertNDJSON(in)
	}
	body, err := readAll(in)
	if err != nil {
		return nil, err
	}
	u := fhirUnit("document", body)
	return []Unit{u}, nil
}

func convertNDJSON(in adapters.Raw) ([]Unit, error) {
	r, closeFn, err := open(in)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	var units []Unit
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		units = append(units, fhirUnit("line "+strconv.Itoa(line), append([]byte(nil), b...)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if len(units) == 0 {
		return nil, errors.New("no FHIR resource in the file")
	}
	return units, nil
}

type fhirHead struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Identifier   json.RawMessage `json:"identifier"`
}

func fhirUnit(name string, body []byte) Unit {
	u := Unit{Name: name, Raw: body, Dedup: sha256.Sum256(body), Attrs: map[string]string{"format": "fhir"}}
	var h fhirHead
	if err := json.Unmarshal(body, &h); err != nil {
		u.Err = fmt.Errorf("not valid JSON: %w", err)
		return u
	}
	if h.ResourceType == "" {
		u.Err = errors.New("JSON has no resourceType: not a FHIR resource")
		return u
	}
	u.Attrs["type"] = h.ResourceType
	if h.ResourceType == "Bundle" && (h.Type == "transaction" || h.Type == "batch") {
		u.Bundle = body
		return u
	}
	if h.ResourceType == "Bundle" {
		u.Err = fmt.Errorf("a Bundle of type %q cannot be sent as is; only transaction or batch", h.Type)
		return u
	}
	req := map[string]string{"method": "POST", "url": h.ResourceType}
	if h.ID != "" {
		req = map[string]string{"method": "PUT", "url": h.ResourceType + "/" + h.ID}
	} else if q := firstIdentifierQuery(h.Identifier); q != "" {
		req["ifNoneExist"] = q
	}
	b, err := json.Marshal(map[string]any{
		"resourceType": "Bundle",
		"type":         "transaction",
		"entry":        []any{map[string]any{"resource": json.RawMessage(body), "request": req}},
	})
	if err != nil {
		u.Err = err
		return u
	}
	u.Bundle = b
	return u
}

func firstIdentifierQuery(raw json.RawMessage) string {
	var ids []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &ids) != nil {
		return ""
	}
	for _, id := range ids {
		if id.System != "" && id.Value != "" {
			return fhir.IdentifierQuery(id.System, id.Value)
		}
	}
	return ""
}

// readAll returns the input's bytes, reading the file when the source
// left Body empty because the file is large.
func readAll(in adapters.Raw) ([]byte, error) {
	if in.Body != nil || in.Open == nil {
		return in.Body, nil
	}
	r, err := in.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// open streams the input.
func open(in adapters.Raw) (io.Reader, func(), error) {
	if in.Body != nil || in.Open == nil {
		return bytes.NewReader(in.Body), func() {}, nil
	}
	r, err := in.Open()
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}
