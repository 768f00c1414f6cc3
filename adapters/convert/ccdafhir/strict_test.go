package ccdafhir

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

var strictParser *jsonformat.Unmarshaller

// strictR4 parses a Bundle (and so every entry) with the Google FHIR R4
// parser, which checks element names, types, cardinalities and
// primitive formats.
func strictR4(js []byte) error {
	if strictParser == nil {
		u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			return err
		}
		strictParser = u
	}
	if _, err := strictParser.Unmarshal(js); err != nil {
		var pretty any
		_ = json.Unmarshal(js, &pretty)
		return fmt.Errorf("%w", err)
	}
	return nil
}

// TestStrictParserRejects proves the strict check is not a no-op.
func TestStrictParserRejects(t *testing.T) {
	bad := []string{
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","code":{"text":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","birthDate":"1954-13-45"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","bogus":1}}]}`,
	}
	for _, b := range bad {
		if err := strictR4([]byte(b)); err == nil {
			t.Errorf("strict parser accepted %s", b)
		}
	}
}
