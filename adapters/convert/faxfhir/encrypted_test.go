package faxfhir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// esc is a %XX-escaped byte string (as JavaScript's unescape reads it).
func esc(t *testing.T, s string) []byte {
	t.Helper()
	b, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

// hexStr is b as a PDF hexadecimal string.
func hexStr(b []byte) string { return fmt.Sprintf("<%X>", b) }

// encryptedPDF is pdf with an encryption dictionary, given by its
// entries, and the file identifier id: an indirect object in an
// incremental update whose trailer names it, as PDF writers that encrypt
// a document write one (ISO 32000-1 7.5.6). Only the dictionary is read
// to tell whether the PDF opens without a password; its content need not
// be encrypted for that.
func encryptedPDF(pdf []byte, entries string, id []byte, direct bool) []byte {
	var b bytes.Buffer
	b.Write(pdf)
	if !bytes.HasSuffix(pdf, []byte("\n")) {
		b.WriteByte('\n')
	}
	enc := "99 0 R"
	if direct {
		enc = "<< " + entries + " >>"
	} else {
		fmt.Fprintf(&b, "99 0 obj\n<< %s >>\nendobj\n", entries)
	}
	off := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 100 /Root 1 0 R /Encrypt %s /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n",
		enc, hexStr(id), hexStr(id), off)
	return b.Bytes()
}

// TestEncryptedPDFIsRefused: a PDF that opens only with a password (a
// "secure" fax service's attachment, protected with the practice's
// password) was filed at the exchange as a document nobody there can
// open, and archived in done/ as sent. It must go to failed/ with a
// reason naming the file and saying so. A PDF encrypted with an empty
// user password (an owner password restricting printing or copying only)
// opens in every viewer and is delivered as before. The dictionaries and
// file identifiers are pdf.js's test vectors (test/unit/crypto_spec.js):
// RC4 revision 3 and AES-256 revisions 5 and 6 needing a password,
// revision 4 and AES-256 revisions 5 and 6 opening without one.
func TestEncryptedPDFIsRefused(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := writePDF(t, "g3-1d-normal-3p.tif")
	fileID1 := esc(t, "%F6%C6%AF%17%F3rR%8DRM%9A%80%D1%EF%DF%18")
	fileID2 := esc(t, "%3CL_%3AD%96%AF@%9A%9D%B3%3Cx%1Cv%AC")
	aes := func(r int, o, u, oe, ue, perms string) string {
		return fmt.Sprintf("/Filter /Standard /V 5 /Length 256 /R %d /P -1084 /O %s /U %s /OE %s /UE %s /Perms %s",
			r, hexStr(esc(t, o)), hexStr(esc(t, u)), hexStr(esc(t, oe)), hexStr(esc(t, ue)), hexStr(esc(t, perms)))
	}
	for _, tc := range []struct {
		name, entries string
		id            []byte
		needsPassword bool
	}{
		{"rc4 r3, user password", "/Filter /Standard /V 2 /Length 128 /R 3 /P -1028 /O " +
			hexStr(esc(t, "%80%C3%04%96%91o%20sl%3A%E6%1B%13T%91%F2%0DV%12%E3%FF%5E%BB%E9VO%D8k%9A%CA%7C%5D")) + " /U " +
			hexStr(esc(t, "j%0C%8D%3EY%19%00%BCjd%7D%91%BD%AA%00%18%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00")), fileID1, true},
		{"r4, no user password", "/Filter /Standard /V 4 /Length 128 /R 4 /P -1084 /O " +
			hexStr(esc(t, "sF%14v.y5%27%DB%97%0A5%22%B3%E1%D4%AD%BD%9B%3C%B4%A5%89u%15%B2Y%F1h%D9%E9%F4")) + " /U " +
			hexStr(esc(t, "%93%04%89%A9%BF%8AE%A6%88%A2%DB%C2%A0%A8gn%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00")), fileID2, false},
		{"aes-256 r5, user password", aes(5,
			"%3Cb%89%233e%C8%98%D2%B2%E2%E4%86%CD%A3%18%CC%7E%B1%24j2%24%7D%D2%AC%ABx%DEl%8Bs%F3vG%99%80%11e%3E%C8%F5%F2%0C%DA%7B%18x",
			"%83%F2%8F%A0W%02%8A%86O%FD%BD%AD%E0I%90%F1%BEQ%C5%0F%F9i%91%97%0F%C2A%03%01%7E%BB%DDu%A9%04%20%9Fe%16%DC%A8%5E%D7%C0d%26%BC%28",
			"%D5%CA%0E%BDnLF%BF%06%C3%0A%BE%9Dd%90U%08%3E%7B%B2%9C%E52%28%E5%D86%DE%22%26j%DF",
			"%23%96%C3%A9%F533%FF%9E%9E%21%F2%E7K%7D%BE%19%7E%ACr%C3%F4%89%F5%EA%A5*J%3C%26%11%11",
			"%D8%FC%844%E5e%0DB%5D%7Ff%FD%3COMM"), fileID1, true},
		{"aes-256 r5, no user password", aes(5,
			"%B8p%04%C3g%26%FCW%CCN%D4%16%A1%E8%950YZ%C9%9E%B1-%97%F3%FE%03%13%19ffZn%8F%F5%EB%EC%CC5sV%10e%CEl%B5%E9G%C1",
			"%83%D4zi%F1O0%961%12%CC%82%CB%CA%BF5y%FD%21%EB%E4%D1%B5%1D%D6%FA%14%F3%BE%8Fqs%EF%88%DE%E2%E8%DC%F55%E4%B8%16%C8%14%8De%1E",
			"%8F%19%E8%D4%27%D5%07%CA%C6%A1%11%A6a%5Bt%F4%DF%0F%84%29%0F%E4%EFF7%5B%5B%11%A0%8F%17e",
			"%81%F5%5D%B0%28%81%E4%7F_%7C%8F%85b%A0%7E%10%D0%88lx%7B%7EJ%5E%912%B6d%12%27%05%F6",
			"%86%1562%0D%AE%A2%FB%5D%3B%22%3Dq%12%B2H"), fileID1, false},
		{"aes-256 r6, user password", aes(6,
			"X%E8%3E6%F5%1A%F5%D1%89%7B%DDH%C71%25%D9%1FJs%A7%7F%9E%B0M-%A3W/%27Z%D9%8D%8E%E8%A9%D0%CA%D6%05%B9%1D%D0%B9.%0BL%87%95",
			"%5E%E6%CDK%A6c%FAL%DB%80%11U9%11%21%A4%96.g%B0%A0%9C%BB%E9%A6%DF%A3%FD%93%EB_%B8S%F5%92e%C6%F7%22%C6%BF%0B%10%5E%ED%D8%14%AF",
			"%D1I%E0Mg%9B%C9%B5%BED%DF%14%3EZ8%D2%05%F0%B2%80%EE%7CD%FE%FD%F4%3El%D0%87%0A%FB",
			"y%D0%02%B5%E6Y%9C%3C%FD%8F%D4%1CT%B4%C4%B1%AD%80%DDk.%14%5E%BA%873_%18%14%DF%FE%24",
			"l%AD%0F%A0%EBM%86WM%3E%CB%B5%E0X%C97"), fileID1, true},
		{"aes-256 r6, no user password", aes(6,
			"%F7%DB%99U%A6M%ACk%AF%CF%D7AFw%E9%C1%91%CBDgI%23R%CF%0C%15r%D74%0D%CE%E9%91@%E4%98QF%BF%88%7Ej%DE%AD%8F%F4@%C1",
			"%1A%A9%DC%918%83%93k%29%5B%117%B16%DB%E8%8E%FE%28%E5%89%D4%0E%AD%12%3B%7DN_6fez%8BG%18%05YOh%7DZH%A3Z%87%17*",
			"%A4a%88%20h%1B%7F%CD%D5%CAc%D8R%83%E5%D6%1C%D2%98%07%984%BA%AF%1B%B4%7FQ%F8%1EU%7D",
			"%A0%0AZU%27%1D%27%2C%0B%FE%0E%A2L%F9b%5E%A1%B9%D6v7b%B26%A9N%99%F1%A4Deq",
			"%03%F2i%07%0D%C3%F9%F2%28%80%B7%F5%DD%D1c%EB"), fileID1, false},
		{"certificate security handler", "/Filter /Adobe.PubSec /V 4 /R 4 /SubFilter /adbe.pkcs7.s5", fileID1, true},
	} {
		for _, direct := range []bool{false, true} {
			body := encryptedPDF(pdf, tc.entries, tc.id, direct)
			_, err := c.Convert(context.Background(), adapters.Raw{Name: "secure.pdf", Body: body})
			switch {
			case tc.needsPassword && (!queue.IsPermanent(err) || !errors.Is(err, ErrPDFEncrypted) || !strings.Contains(err.Error(), "fax secure.pdf")):
				t.Errorf("%s (direct %v): %v; want a permanent error naming the file and saying it needs a password", tc.name, direct, err)
			case !tc.needsPassword && err != nil:
				t.Errorf("%s (direct %v): %v; it opens without a password", tc.name, direct, err)
			}
		}
	}
	// A PDF that is not encrypted at all is not slowed by a search.
	if _, err := c.Convert(context.Background(), adapters.Raw{Name: "plain.pdf", Body: pdf}); err != nil {
		t.Fatal(err)
	}
}
