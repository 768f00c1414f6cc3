package fax

import (
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// TestEmailWinmailDatSaysSo: a fax e-mail that Outlook or Exchange sent
// in its rich text format carries its attachments packed in one
// winmail.dat (TNEF, application/ms-tnef), where the PDF the clinic sees
// in Outlook lies; ferry, which does not read TNEF, refused it as "no PDF
// or TIFF attachment (1 other attachments)", which sent the contractor
// looking for a fax service that sent no fax. The error names
// winmail.dat and says what to change; the e-mail still goes to failed/.
func TestEmailWinmailDatSaysSo(t *testing.T) {
	// TNEF's signature (0x223E9F78, little-endian), a key, and the rest
	// of a stream.
	tnef := base64.StdEncoding.EncodeToString([]byte("\x78\x9f\x3e\x22\x01\x00\x01\x06\x90\x08\x00\x04\x00\x00\x00\x00\x00"))
	for _, att := range []string{
		"Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Disposition: attachment; filename=\"winmail.dat\"",
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''WINMAIL.DAT",
		"Content-Type: application/vnd.ms-tnef",
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "fax.eml")
		msg := "Subject: Fax from 555-010-0142\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain\r\n\r\nPlease see the attached fax.\r\n" +
			"--b1\r\n" + att + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + tnef + "\r\n--b1--\r\n"
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		in := adapters.Raw{Name: path, Size: int64(len(msg)), Meta: map[string]string{folder.MetaFile: path},
			Open: func() (io.ReadCloser, error) { return os.Open(path) }}
		_, err := Emailed(in, time.UTC)
		if err == nil || !queue.IsPermanent(err) || !strings.Contains(err.Error(), "winmail.dat") ||
			!strings.Contains(err.Error(), "TNEF") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v; want a permanent error naming the file, winmail.dat and TNEF", att, err)
		}
	}
}
