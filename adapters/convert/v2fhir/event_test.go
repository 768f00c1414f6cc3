package v2fhir

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestTriggerFromEVN: an HL7 v2.1 ADT names its event in EVN-1 only (MSH-9
// is "ADT"); it converts as the event EVN-1 names, and the MessageHeader
// says so. Without EVN-1 either, the message is refused naming both
// fields. When MSH-9.2 and EVN-1 differ, MSH-9.2 wins.
func TestTriggerFromEVN(t *testing.T) {
	const msg = "MSH|^~\\&|OLDADT|CLINIC|||20240315083000||ADT|V21-1|P|2.1\r" +
		"EVN|A04|20240315082955\rPID|1||M21^^^CLINIC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC\r"
	var c Converter
	b, res, err := c.ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if res.MessageType != "ADT^A04" {
		t.Errorf("converted as %s, want ADT^A04", res.MessageType)
	}
	found := false
	for _, e := range b.Entry {
		if mh, ok := e.Resource.(*fhir.MessageHeader); ok {
			found = mh.EventCoding != nil && mh.EventCoding.Code == "A04"
		}
	}
	if !found {
		t.Error("MessageHeader.eventCoding is not A04")
	}

	noEvent := strings.Replace(msg, "EVN|A04|", "EVN||", 1)
	_, _, err = c.ConvertRaw([]byte(noEvent))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "MSH-9.2 and EVN-1") {
		t.Errorf("no trigger anywhere: %v", err)
	}

	both := strings.Replace(msg, "||ADT|", "||ADT^A08|", 1)
	if _, res, err = c.ConvertRaw([]byte(both)); err != nil || res.MessageType != "ADT^A08" {
		t.Errorf("MSH-9.2 A08, EVN-1 A04: %s, %v", res.MessageType, err)
	}
}
