package v2fhir

import (
	"errors"
	"strings"
	"testing"
)

// TestEDDataPastLastComponentRefused: ED data that runs on past ED.5 (a
// sender's unescaped "^" in text data) was cut at the separator and the
// rest dropped without an error; it is now refused naming OBX-5, as
// undecodable data is, and the message kept whole in quarantine.
func TestEDDataPastLastComponentRefused(t *testing.T) {
	for _, ed := range []string{
		"^text^plain^A^Potassium 5.1^H^ recheck in 2 hours",
		"text^plain^A^Potassium 5.1^^H",
	} {
		oru := "MSH|^~\\&|LIS|LAB|HIE|HIE|20240101120000||ORU^R01^ORU_R01|ED4|P|2.5.1\r" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\r" +
			"OBR|1||F-4^LAB|2823-3^Potassium^LN|||20240101110000|||||||||||||||20240101115000|||F\r" +
			"OBX|1|ED|11502-2^Laboratory report^LN||" + ed + "||||||F\r"
		_, _, err := testConverter(t).ConvertRaw([]byte(oru))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != "OBX-5" || !strings.Contains(ce.Reason, "past") {
			t.Errorf("%s: err %v, want a content error naming OBX-5", ed, err)
		}
	}
}
