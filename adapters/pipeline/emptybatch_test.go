package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
)

// TestHL7EmptyBatchFile: an HL7 batch may hold no message (v2.5.1
// §2.10.3: "[FHS] {[BHS] {[MSH ...]} [BTS]} [FTS]", BTS-1 the batch
// message count, 0 for an empty one), as the nightly batch of an EHR
// writes it on a night with nothing to send. Such a file was refused as
// "no HL7 v2 message in the input", quarantined, and moved to failed/
// with that error every night; it is taken, nothing queued.
func TestHL7EmptyBatchFile(t *testing.T) {
	for _, body := range []string{
		"FHS|^~\\&|EHR|CLINIC\rBHS|^~\\&|EHR|CLINIC\rBTS|0\rFTS|1\r",
		"FHS|^~\\&|EHR|CLINIC\r\nFTS|0\r\n",
		"BHS|^~\\&|EHR|CLINIC\rBTS|0\r",
	} {
		_, q, quar := newTestPipeline(t)
		p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": HL7{Conv: &v2fhir.Converter{}}}, nil)
		in := adapters.Raw{Source: "folder/ehr", Name: "nightly.hl7", Format: "hl7v2", Body: []byte(body), Received: time.Now()}
		if err := p.Consume(context.Background(), in); err != nil {
			t.Errorf("%q: %v", body, err)
		}
		if q.Len() != 0 {
			t.Errorf("%q: %d queued", body, q.Len())
		}
		if ids, _ := quar.List(); len(ids) != 0 {
			t.Errorf("%q: quarantined %v", body, ids)
		}
	}
}
