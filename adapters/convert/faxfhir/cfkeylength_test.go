package faxfhir

import (
	"context"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestR4KeyLengthFromCryptFilter: a revision 4 PDF (AES-128, as scanners'
// and fax services' "protected" PDFs are) with no user password opens in
// every viewer. Its encryption dictionary need not give /Length, which is
// for V 2 and 3 only (ISO 32000-1 Table 20: "(Optional; PDF 1.4; only if
// V is 2 or 3) The length of the encryption key, in bits"); with V 4 the
// crypt filter's /Length gives it, in bytes for the standard handler
// (Table 25: "16 means 128"), and AESV2's key is 128 bits. ferry took the
// key for 40 bits, found the empty password wrong, and refused the fax as
// one that opens only with a password. The vector is pdf.js's revision 4
// one (test/unit/crypto_spec.js), its /Length moved into the crypt filter.
func TestR4KeyLengthFromCryptFilter(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := writePDF(t, "g3-1d-normal-3p.tif")
	id := esc(t, "%3CL_%3AD%96%AF@%9A%9D%B3%3Cx%1Cv%AC")
	ou := " /O " + hexStr(esc(t, "sF%14v.y5%27%DB%97%0A5%22%B3%E1%D4%AD%BD%9B%3C%B4%A5%89u%15%B2Y%F1h%D9%E9%F4")) +
		" /U " + hexStr(esc(t, "%93%04%89%A9%BF%8AE%A6%88%A2%DB%C2%A0%A8gn%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00"))
	for name, entries := range map[string]string{
		"crypt filter's length": "/Filter /Standard /V 4 /R 4 /P -1084 /CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen /Length 16 >> >> /StmF /StdCF /StrF /StdCF" + ou,
		"in bits":               "/Filter /Standard /V 4 /R 4 /P -1084 /CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen /Length 128 >> >> /StmF /StdCF /StrF /StdCF" + ou,
		"no length":             "/Filter /Standard /V 4 /R 4 /P -1084 /CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen >> >> /StmF /StdCF /StrF /StdCF" + ou,
	} {
		body := encryptedPDF(pdf, entries, id, false)
		if _, err := c.Convert(context.Background(), adapters.Raw{Name: "protected.pdf", Body: body}); err != nil {
			t.Errorf("%s: %v; it opens without a password", name, err)
		}
	}
}
