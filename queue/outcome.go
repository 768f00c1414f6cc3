package queue

import "errors"

// MaxOutcomeBytes bounds the receiver's answer a dead letter keeps (see
// Outcomer): generous for an OperationOutcome with many issues, small
// enough that a receiver answering with a huge page cannot fill the
// dead-letter store.
const MaxOutcomeBytes = 64 << 10

// Outcomer is implemented by an error that carries the receiver's own
// answer to a rejected delivery, such as the FHIR OperationOutcome of a
// 422 (ARCHITECTURE.md invariant 2: "other 4xx: dead-letter with the
// receiver's OperationOutcome"). The error text is a short summary fit
// for logs; the answer itself may quote patient data, so a queue keeps it
// only with the dead letter (sealed like the rest), never in a log.
type Outcomer interface {
	// Outcome returns the answer as received (at most MaxOutcomeBytes)
	// and whether it was cut to fit.
	Outcome() (body []byte, truncated bool)
}

// OutcomeOf returns the Outcome of the first error in err's chain that
// has one; nil when none does.
func OutcomeOf(err error) (body []byte, truncated bool) {
	var o Outcomer
	if errors.As(err, &o) {
		return o.Outcome()
	}
	return nil, false
}
