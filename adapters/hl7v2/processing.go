package hl7v2

import (
	"fmt"
	"strings"
)

// ProcessingIDs is a set of processing ids, the HL7 table 0103 values of
// MSH-11.1: P (production), T (training) and D (debugging). A sender marks
// test traffic T or D so that a production receiver can refuse it; a
// listener that accepts only the ids of its set keeps a test feed pointed
// at the production gateway out of the production exchange, while a test
// gateway can accept T.
type ProcessingIDs uint8

// The processing ids of HL7 table 0103.
const (
	Production ProcessingIDs = 1 << iota // P
	Training                             // T
	Debugging                            // D
)

// ParseProcessingIDs reads a list of table 0103 values (see
// ParseProcessingID). An error names the index of the first value that is
// not one, e.g. "[1]: must be ...".
func ParseProcessingIDs(vals []string) (ProcessingIDs, error) {
	var s ProcessingIDs
	for i, v := range vals {
		id, err := ParseProcessingID(v)
		if err != nil {
			return 0, fmt.Errorf("[%d]: %w", i, err)
		}
		s |= id
	}
	return s, nil
}

// ParseProcessingID reads one table 0103 value, P, T or D; case and
// surrounding spaces are ignored.
func ParseProcessingID(v string) (ProcessingIDs, error) {
	t := strings.TrimSpace(v)
	id, ok := processingID(t)
	if !ok || t == "" {
		return 0, fmt.Errorf("must be P (production), T (training) or D (debugging), the values of HL7 table 0103; got %q", v)
	}
	return id, nil
}

// processingID maps one table 0103 value to its bit; "" is production.
func processingID(id string) (ProcessingIDs, bool) {
	switch id {
	case "P", "p", "":
		return Production, true
	case "T", "t":
		return Training, true
	case "D", "d":
		return Debugging, true
	}
	return 0, false
}

// Accepts reports whether id, an MSH-11.1 value, is in the set. An empty
// MSH-11 counts as P: the field is required, a sender that leaves it out
// sends production traffic (ferry's ACK to it says P too), and refusing it
// would stop feeds that have always worked. A value outside table 0103 is
// never accepted.
func (s ProcessingIDs) Accepts(id string) bool {
	bit, ok := processingID(id)
	return ok && s&bit != 0
}

// String lists the set's ids as a config would, e.g. "P, T".
func (s ProcessingIDs) String() string {
	var ids []string
	for _, p := range [...]struct {
		bit ProcessingIDs
		id  string
	}{{Production, "P"}, {Training, "T"}, {Debugging, "D"}} {
		if s&p.bit != 0 {
			ids = append(ids, p.id)
		}
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// ProcessingIDError is the negative acknowledgement for a message whose
// processing id (MSH-11.1, id) is not in accepted: AR with ERR-3 202
// "Unsupported processing id" at MSH-11, as HL7 prescribes for an
// MSH-11 the receiver does not support (like 200 for MSH-9). id is
// quoted, cut short, in the text: it is a code, not PHI.
func ProcessingIDError(id string, accepted ProcessingIDs) *AckError {
	what := ""
	switch bit, _ := processingID(id); {
	case bit == Training:
		what = " (training)"
	case bit == Debugging:
		what = " (debugging)"
	}
	if len(id) > 20 {
		id = id[:20]
	}
	return &AckError{
		Code: CodeAR, ErrCode: ErrUnsupportedProc, Segment: "MSH", Field: 11,
		Text: fmt.Sprintf("processing id %q%s is not accepted here (accepted: %s); send test messages to a test gateway", id, what, accepted),
	}
}
