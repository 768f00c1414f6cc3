package hl7v2

import (
	"bytes"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// In Shift_JIS, Big5 and GB18030 the second byte of a character may be
// '|': a sending facility "ポート病院" in Shift_JIS starts 0x83 0x7C. Split
// by bytes, the header lost MSH-18 (the message was decoded as
// windows-1252, its MSH-10 read "ADT^A01") and the ACK answered
// "ADT^A01" in MSA-2, a control id the sender never sent. The header is
// split by the characters of the set MSH-18 names.
func TestDoubleByteHeader(t *testing.T) {
	for _, c := range []struct {
		label, facility string
		enc             encoding.Encoding
	}{
		{"SHIFT_JIS", "ポート病院", japanese.ShiftJIS},
		{"BIG5", "醫院丨", traditionalchinese.Big5},
		{"GB18030", "医院亅", simplifiedchinese.GB18030},
	} {
		fac, err := c.enc.NewEncoder().String(c.facility)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains([]byte(fac), []byte("|")) {
			t.Fatalf("%s: % x holds no '|' byte", c.label, fac)
		}
		msg := "MSH|^~\\&|APP|" + fac + "|FERRY|HIE|20261125120000||ADT^A01|CTRL1|P|2.5.1|7|||||" + c.label + "\rPID|1||1^^^H^MR\r"
		m, err := Parse([]byte(msg))
		if err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		if m.Get("MSH-4") != c.facility || m.ControlID() != "CTRL1" || m.Charset() != c.label {
			t.Errorf("%s: MSH-4 %q, MSH-10 %q, MSH-18 %q (decoded %s)", c.label, m.Get("MSH-4"), m.ControlID(), m.Charset(), m.Decoding())
		}
		a := BuildAck([]byte(msg), nil, "N", ackTime)
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatalf("%s: ACK does not parse: %v", c.label, err)
		}
		if a.MessageControlID != "CTRL1" || ack.Get("MSA-2") != "CTRL1" || ack.Get("MSH-6") != c.facility || ack.Charset() != c.label {
			t.Errorf("%s: ACK MSA-2 %q, MSH-6 %q, MSH-18 %q: %q", c.label, ack.Get("MSA-2"), ack.Get("MSH-6"), ack.Charset(), a.Bytes)
		}
		seq, ok, err := ReadSequence([]byte(msg))
		if !ok || err != nil || seq.Number != 7 || seq.Stream != "APP|"+fac+"|FERRY|HIE" {
			t.Errorf("%s: ReadSequence = %+v, %v, %v", c.label, seq, ok, err)
		}
	}
}

// A header labelled Shift_JIS whose field ends in the first byte of a
// character (0x83, then '|') is not valid in the set it names; echoed as
// it is, that byte took the separator after it into its character in an
// ACK labelled the same, and the sender read the ACK's fields shifted
// (MSH-10 "P"). The stray byte is left out of the echo.
func TestBuildAckDoubleByteCutChar(t *testing.T) {
	msg := "MSH|^~\\&|APP|\x83|FERRY|HIE|20261125120000||ADT^A01|C1|P|2.5.1||||||SHIFT_JIS\rPID|1\r"
	a := BuildAck([]byte(msg), nil, "N", ackTime)
	ack, err := Parse(a.Bytes)
	if err != nil {
		t.Fatalf("ACK does not parse: %v", err)
	}
	if ack.ControlID() != "N" || ack.Get("MSA-2") != "C1" || ack.Type().Code != "ACK" || ack.Charset() != "SHIFT_JIS" {
		t.Errorf("ACK MSH-10 %q, MSA-2 %q, MSH-9 %q, MSH-18 %q: %q", ack.ControlID(), ack.Get("MSA-2"), ack.Type().Code, ack.Charset(), a.Bytes)
	}
}
