package hl7v2

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

var ackTime = time.Date(2026, 11, 25, 21, 30, 5, 0, time.FixedZone("", -5*3600))

func ackSegs(t *testing.T, a Ack) [][]string {
	t.Helper()
	s := string(a.Bytes)
	if !strings.HasSuffix(s, "\r") || strings.Contains(s, "\n") {
		t.Fatalf("ack not CR-terminated: %q", s)
	}
	var out [][]string
	for _, seg := range strings.Split(strings.TrimSuffix(s, "\r"), "\r") {
		out = append(out, strings.Split(seg, "|"))
	}
	return out
}

// mshField returns MSH-n of a split MSH segment (MSH-1 is the separator).
func mshField(seg []string, n int) string {
	if n == 1 {
		return "|"
	}
	if n-1 < len(seg) {
		return seg[n-1]
	}
	return ""
}

const ackADT = "MSH|^~\\&|EPIC|HOSP|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|MSG00001|P|2.5.1||||||UNICODE UTF-8\rEVN|A01|20261125120000\rPID|1||123^^^HOSP^MR||DOE^JANE\r"

func TestBuildAckOriginalModeAA(t *testing.T) {
	a := BuildAck([]byte(ackADT), nil, "ACK1", ackTime)
	if a.Code != "AA" || a.Enhanced || a.MessageControlID != "MSG00001" || a.ControlID != "ACK1" {
		t.Fatalf("ack = %+v", a)
	}
	segs := ackSegs(t, a)
	if len(segs) != 2 || segs[0][0] != "MSH" || segs[1][0] != "MSA" {
		t.Fatalf("segments: %q", a.Bytes)
	}
	msh := segs[0]
	want := map[int]string{
		2: "^~\\&", 3: "FERRY", 4: "HIE", 5: "EPIC", 6: "HOSP", 7: "20261125213005-0500",
		9: "ACK^A01^ACK", 10: "ACK1", 11: "P", 12: "2.5.1", 15: "", 16: "", 18: "UNICODE UTF-8",
	}
	for n, v := range want {
		if got := mshField(msh, n); got != v {
			t.Errorf("MSH-%d = %q, want %q", n, got, v)
		}
	}
	if segs[1][1] != "AA" || segs[1][2] != "MSG00001" {
		t.Errorf("MSA = %q", segs[1])
	}
}

func TestBuildAckEnhancedMode(t *testing.T) {
	msg := strings.Replace(ackADT, "|P|2.5.1||||||", "|P|2.5.1|||AL|NE||", 1)
	for _, c := range []struct {
		res  error
		code string
	}{
		{nil, "CA"},
		{queue.Permanent(errors.New("bad")), "CE"},
		{errors.New("disk full"), "CR"},
	} {
		a := BuildAck([]byte(msg), c.res, "X", ackTime)
		if !a.Enhanced || a.Code != c.code {
			t.Fatalf("res %v: code %s enhanced %v, want %s", c.res, a.Code, a.Enhanced, c.code)
		}
		segs := ackSegs(t, a)
		if segs[1][1] != c.code || mshField(segs[0], 15) != "NE" || mshField(segs[0], 16) != "NE" {
			t.Errorf("res %v: ack %q", c.res, a.Bytes)
		}
	}
	// MSH-16 alone also selects enhanced mode.
	msg = strings.Replace(ackADT, "|P|2.5.1||||||", "|P|2.5.1||||AL||", 1)
	if a := BuildAck([]byte(msg), nil, "X", ackTime); a.Code != "CA" {
		t.Fatalf("MSH-16 only: %s", a.Code)
	}
}

// TestAcceptAckDue is table 0155 for the accept acknowledgement (MSH-15).
func TestAcceptAckDue(t *testing.T) {
	for _, c := range []struct {
		cond string
		code string
		due  bool
	}{
		{"AL", CodeCA, true}, {"AL", CodeCE, true}, {"AL", CodeCR, true},
		{"NE", CodeCA, false}, {"NE", CodeCE, false}, {"NE", CodeCR, false},
		{"ER", CodeCA, false}, {"ER", CodeCE, true}, {"ER", CodeCR, true},
		{"SU", CodeCA, true}, {"SU", CodeCE, false}, {"SU", CodeCR, false},
		// Empty (MSH-16 alone selected enhanced mode) and unknown: AL.
		{"", CodeCA, true}, {"", CodeCR, true},
		{"XX", CodeCA, true}, {"XX", CodeCE, true},
		// Case and padding from sloppy senders.
		{" ne ", CodeCA, false}, {"er", CodeCA, false}, {"Su", CodeCE, false},
	} {
		if got := AcceptAckDue(c.cond, c.code); got != c.due {
			t.Errorf("AcceptAckDue(%q, %s) = %v, want %v", c.cond, c.code, got, c.due)
		}
	}
}

// TestBuildAckAcceptConditions: BuildAck applies MSH-15 to every outcome and
// flags an application acknowledgement asked for in MSH-16, which it never
// builds.
func TestBuildAckAcceptConditions(t *testing.T) {
	withModes := func(m15, m16 string) []byte {
		return []byte(strings.Replace(ackADT, "|P|2.5.1||||||", "|P|2.5.1|||"+m15+"|"+m16+"||", 1))
	}
	results := []struct {
		res  error
		code string
	}{
		{nil, CodeCA},
		{queue.Permanent(errors.New("bad")), CodeCE},
		{errors.New("disk full"), CodeCR},
	}
	for _, c := range []struct {
		m15, m16   string
		suppressed [3]bool // for CA, CE, CR
		app        bool
	}{
		{"AL", "NE", [3]bool{false, false, false}, false},
		{"NE", "NE", [3]bool{true, true, true}, false},
		{"ER", "NE", [3]bool{true, false, false}, false},
		{"SU", "NE", [3]bool{false, true, true}, false},
		{"", "AL", [3]bool{false, false, false}, true}, // empty MSH-15: AL
		{"NE", "AL", [3]bool{true, true, true}, true},
		{"ER", "ER", [3]bool{true, false, false}, true},
		{"SU", "SU", [3]bool{false, true, true}, true},
		{"ZZ", "", [3]bool{false, false, false}, false},  // unknown MSH-15: AL
		{"AL", "QQ", [3]bool{false, false, false}, true}, // unknown MSH-16: AL
	} {
		for i, r := range results {
			a := BuildAck(withModes(c.m15, c.m16), r.res, "X", ackTime)
			if !a.Enhanced || a.Code != r.code || a.Suppressed != c.suppressed[i] || a.AppAckRequested != c.app {
				t.Errorf("MSH-15 %q MSH-16 %q, %s: enhanced %v code %s suppressed %v app %v; want suppressed %v app %v",
					c.m15, c.m16, r.code, a.Enhanced, a.Code, a.Suppressed, a.AppAckRequested, c.suppressed[i], c.app)
			}
			// The ACK is built all the same, for logging and counting.
			if segs := ackSegs(t, a); segs[1][1] != r.code || segs[1][2] != "MSG00001" {
				t.Errorf("MSH-15 %q: MSA %q", c.m15, segs[1])
			}
		}
	}
	// Original mode: never suppressed, whatever the outcome.
	for _, r := range results {
		if a := BuildAck([]byte(ackADT), r.res, "X", ackTime); a.Enhanced || a.Suppressed || a.AppAckRequested {
			t.Errorf("original mode %v: %+v", r.res, a)
		}
	}
}

func TestBuildAckErrors(t *testing.T) {
	cases := []struct {
		name    string
		res     error
		code    string
		err3    string
		err2    string
		textHas string
	}{
		{"permanent", queue.Permanent(errors.New("convert: no patient")), "AE", "207^Application internal error^HL70357", "", "no patient"},
		{"transient", errors.New("queue put: disk full"), "AR", "207^Application internal error^HL70357", "", "disk full"},
		{"ack error AR 200", queue.Permanent(fmt.Errorf("convert: %w", &AckError{Code: "AR", ErrCode: ErrUnsupportedType, Segment: "MSH", Field: 9, Text: "message type ZZZ^Z01 is not supported"})),
			"AR", "200^Unsupported message type^HL70357", "MSH^1^9", "ZZZ\\S\\Z01"},
		{"ack error AE 101", queue.Permanent(&AckError{Code: "AE", ErrCode: ErrRequiredMissing, Segment: "PID", Field: 3}),
			"AE", "101^Required field missing^HL70357", "PID^1^3", "Required field missing"},
		{"parse error", queue.Permanent(fmt.Errorf("convert: %w", &ParseError{Segment: 3, Name: "PID", Field: 7, Reason: "bad date"})),
			"AE", "102^Data type error^HL70357", "PID^1^7", "bad date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := BuildAck([]byte(ackADT), c.res, "X", ackTime)
			if a.Code != c.code {
				t.Fatalf("code = %s, want %s", a.Code, c.code)
			}
			segs := ackSegs(t, a)
			if len(segs) != 3 || segs[2][0] != "ERR" {
				t.Fatalf("want MSH, MSA, ERR: %q", a.Bytes)
			}
			err := segs[2]
			get := func(n int) string {
				if n < len(err) {
					return err[n]
				}
				return ""
			}
			if get(3) != c.err3 || get(2) != c.err2 || get(4) != "E" || !strings.Contains(get(8), c.textHas) {
				t.Errorf("ERR = %q", err)
			}
			if segs[1][2] != "MSG00001" {
				t.Errorf("MSA-2 = %q", segs[1][2])
			}
		})
	}
}

func TestBuildAckOldVersionUsesERR1(t *testing.T) {
	msg := "MSH|^~\\&|LAB|X|FERRY|Y|20260101||ORU^R01|C9|P|2.3\rPID|1\r"
	a := BuildAck([]byte(msg), queue.Permanent(&AckError{Code: "AE", ErrCode: "101", Segment: "PID", Field: 3}), "X", ackTime)
	segs := ackSegs(t, a)
	if mshField(segs[0], 9) != "ACK^R01" {
		t.Errorf("MSH-9 = %q (v2.3 has no message structure component)", mshField(segs[0], 9))
	}
	if segs[1][3] != "Required field missing" {
		t.Errorf("MSA-3 = %q (the text goes there before v2.5)", segs[1])
	}
	if got := segs[2]; len(got) != 2 || got[1] != "PID^1^3^101&Required field missing&HL70357" {
		t.Errorf("ERR = %q", got)
	}
}

func TestBuildAckCustomDelimiters(t *testing.T) {
	msg := "MSH#$*@%#A#B#C#D#2026##ADT$A08#ID7#T#2.4\r"
	a := BuildAck([]byte(msg), queue.Permanent(errors.New("x#y$z")), "N", ackTime)
	s := string(a.Bytes)
	if !strings.HasPrefix(s, "MSH#$*@%#C#D#A#B#20261125213005-0500##ACK$A08$ACK#N#T#2.4\rMSA#AE#ID7#x@F@y@S@z\rERR#") {
		t.Fatalf("ack = %q", s)
	}
	if !strings.Contains(s, "x@F@y@S@z") {
		t.Errorf("text not escaped with the message's delimiters: %q", s)
	}
}

func TestBuildAckUnreadable(t *testing.T) {
	for _, in := range []string{"", "hello world", "PID|1||x\r", "MSH"} {
		for _, res := range []error{nil, queue.Permanent(errors.New("not hl7"))} {
			a := BuildAck([]byte(in), res, "N", ackTime)
			if a.Code != "AE" || a.MessageControlID != "" {
				t.Fatalf("%q/%v: %+v", in, res, a)
			}
			segs := ackSegs(t, a)
			if segs[1][0] != "MSA" || len(segs) != 3 || segs[2][2] != "MSH^1" || segs[2][3] != "100^Segment sequence error^HL70357" {
				t.Errorf("%q: ack %q", in, a.Bytes)
			}
		}
	}
	// A readable header with a broken body still echoes MSH-10.
	a := BuildAck([]byte("junk\r\nMSH|^~\\&|A|B|C|D|||ADT^A01|K1|P|2.5\n\x00\x01"), queue.Permanent(errors.New("bad")), "N", ackTime)
	if a.MessageControlID != "K1" || a.Code != "AE" {
		t.Errorf("best effort: %+v", a)
	}
}

func TestControlIDsUnique(t *testing.T) {
	c := NewControlIDs()
	seen := map[string]bool{}
	for range 10000 {
		id := c.Next()
		if seen[id] || len(id) > 20 {
			t.Fatalf("id %q repeated or too long", id)
		}
		seen[id] = true
	}
}

func TestAckErrorMessage(t *testing.T) {
	e := &AckError{Code: "AR", ErrCode: "200", Segment: "MSH", Field: 9, Text: "unsupported"}
	if e.Error() != "hl7v2 ar 200 at MSH-9: unsupported" {
		t.Fatal(e.Error())
	}
}

// FuzzBuildAck checks that any input gets a well-formed ACK: MSH then MSA,
// CR-terminated, with no control characters that could break MLLP framing.
func FuzzBuildAck(f *testing.F) {
	f.Add([]byte(ackADT), false)
	f.Add([]byte("MSH#$*@%#A#B#C#D#2026##ADT$A08#ID7#T#2.4\r"), true)
	f.Add([]byte("MSH|^~\\&|\x1c|\x0b||||ADT^A01|1|P|2.3|||AL\r"), true)
	f.Fuzz(func(t *testing.T, msg []byte, fail bool) {
		var res error
		if fail {
			res = queue.Permanent(errors.New("bad\r|^~\\&"))
		}
		a := BuildAck(msg, res, "N", ackTime)
		s := string(a.Bytes)
		if !strings.HasPrefix(s, "MSH") || !strings.Contains(s, "\rMSA") || !strings.HasSuffix(s, "\r") {
			t.Fatalf("malformed ack %q", s)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < ' ' && c != '\r') || c == 0x7f {
				t.Fatalf("control byte %#x in ack %q", c, s)
			}
		}
		if strings.Count(s, "\r") != 2+boolInt(a.Code != CodeAA && a.Code != CodeCA) {
			t.Fatalf("unexpected segment count in %q", s)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkBuildAck(b *testing.B) {
	ids := NewControlIDs()
	b.ReportAllocs()
	for b.Loop() {
		_ = BuildAck([]byte(ackADT), nil, ids.Next(), ackTime)
	}
}

// A header in a single-byte character set (MSH-18 8859/1) is echoed
// byte for byte: the ACK is labelled with the same MSH-18, so the sender
// must find its own facility name and control id in it, not UTF-8
// replacement characters.
func TestBuildAckKeepsHeaderBytes(t *testing.T) {
	msg := "MSH|^~\\&|LABO|H\xd4PITAL|FERRY|HIE|20261125120000||ORU^R01^ORU_R01|R\xc9S42|P|2.5.1||||||8859/1\rPID|1||1^^^H^MR||DUPR\xc9^JEAN\r"
	a := BuildAck([]byte(msg), nil, "N", ackTime)
	segs := ackSegs(t, a)
	if got := mshField(segs[0], 6); got != "H\xd4PITAL" {
		t.Errorf("ACK MSH-6 = %q, want %q", got, "H\xd4PITAL")
	}
	if segs[1][2] != "R\xc9S42" || a.MessageControlID != "R\xc9S42" {
		t.Errorf("MSA-2 = %q (MessageControlID %q), want %q", segs[1][2], a.MessageControlID, "R\xc9S42")
	}
	if got := mshField(segs[0], 18); got != "8859/1" {
		t.Errorf("ACK MSH-18 = %q", got)
	}
}

// A header that declares fewer than four encoding characters is one Parse
// reads, so the message is converted and stored: its ACK must be AA naming
// it, not AE for an "unreadable" header with an empty MSA-2.
func TestBuildAckShortEncodingCharacters(t *testing.T) {
	msg := "MSH|^~\\|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01|SHORT1|P|2.3\rPID|1||1^^^H^MR\r"
	if _, err := Parse([]byte(msg)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a := BuildAck([]byte(msg), nil, "N", ackTime)
	if a.Code != "AA" || a.MessageControlID != "SHORT1" {
		t.Fatalf("ack = %s %q: %q", a.Code, a.MessageControlID, a.Bytes)
	}
	ack, err := Parse(a.Bytes)
	if err != nil {
		t.Fatalf("ACK does not parse: %v", err)
	}
	if ack.Get("MSA-2") != "SHORT1" || ack.MSH().Get(5) != "SEND" || ack.Get("MSH-9-1") != "ACK" {
		t.Errorf("ack = %q", a.Bytes)
	}
	// An error is explained with delimiters the ACK declares.
	a = BuildAck([]byte(msg), queue.Permanent(errors.New("PID-3 a&b")), "N", ackTime)
	if a.Code != "AE" || a.MessageControlID != "SHORT1" || !strings.HasPrefix(string(a.Bytes), "MSH|^~\\&|") {
		t.Fatalf("ack = %q", a.Bytes)
	}
	if ack, err := Parse(a.Bytes); err != nil || ack.Get("MSA-3") != "PID-3 a&b" {
		t.Errorf("ack %q: %v", a.Bytes, err)
	}
}

// An invalid segment name is reported in ERR-2 escaped: written as it is,
// its '^' or '\' would be read as delimiters or escapes by the sender.
func TestBuildAckEscapesSegmentName(t *testing.T) {
	msg := "MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01|SEG1|P|2.5.1\rPI^D|1\r"
	_, perr := Parse([]byte(msg))
	if perr == nil {
		t.Fatal("Parse accepted an invalid segment name")
	}
	for _, version := range []string{"2.5.1", "2.4"} {
		m := strings.Replace(msg, "|2.5.1\r", "|"+version+"\r", 1)
		a := BuildAck([]byte(m), queue.Permanent(perr), "N", ackTime)
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatalf("%s: ACK does not parse: %v", version, err)
		}
		loc := "ERR-2-1"
		if version == "2.4" {
			loc = "ERR-1-1"
		}
		if got := ack.Get(loc); got != `"PI^D"` {
			t.Errorf("%s: %s = %q, want the segment name as read: %q", version, loc, got, a.Bytes)
		}
	}
}

// TestBuildAppAck: the application acknowledgement is due by MSH-16 (table
// 0155) and the outcome, carries the original-mode codes with the same ERR
// segment, answers MSH-10 in MSA-2 under a control id of its own, and asks
// for nothing back (MSH-15 and MSH-16 NE). Original mode and an MSH-16
// that is empty or NE get none.
func TestBuildAppAck(t *testing.T) {
	withModes := func(m15, m16 string) []byte {
		return []byte(strings.Replace(ackADT, "|P|2.5.1||||||", "|P|2.5.1|||"+m15+"|"+m16+"||", 1))
	}
	bad := queue.Permanent(&AckError{Code: CodeAE, ErrCode: ErrRequiredMissing, Segment: "PID", Field: 3, Text: "no identifier"})
	for _, c := range []struct {
		msg  []byte
		res  error
		code string // "" when none is due
	}{
		{withModes("NE", "AL"), nil, CodeAA},
		{withModes("NE", "AL"), bad, CodeAE},
		{withModes("AL", "AL"), errors.New("disk full"), CodeAR},
		{withModes("", "al "), nil, CodeAA},
		{withModes("NE", "ER"), nil, ""},
		{withModes("NE", "ER"), bad, CodeAE},
		{withModes("NE", "SU"), nil, CodeAA},
		{withModes("NE", "SU"), bad, ""},
		{withModes("AL", "NE"), nil, ""},
		{withModes("AL", ""), nil, ""},
		{[]byte(ackADT), nil, ""}, // original mode: the AA is the application's answer
		{[]byte("garbage"), nil, ""},
	} {
		a, due := BuildAppAck(c.msg, c.res, "APP1", ackTime)
		if due != (c.code != "") {
			t.Errorf("%q, %v: due %v, want %v", c.msg[:min(60, len(c.msg))], c.res, due, c.code != "")
			continue
		}
		if !due {
			continue
		}
		segs := ackSegs(t, a)
		if a.Code != c.code || segs[1][1] != c.code || segs[1][2] != "MSG00001" {
			t.Errorf("%v: code %s, MSA %q; want %s", c.res, a.Code, segs[1], c.code)
		}
		if mshField(segs[0], 10) != "APP1" || mshField(segs[0], 15) != "NE" || mshField(segs[0], 16) != "NE" {
			t.Errorf("%v: MSH %q", c.res, segs[0])
		}
		if hasERR := len(segs) > 2 && segs[2][0] == "ERR"; hasERR != (c.code != CodeAA) {
			t.Errorf("%v: ERR segment %v, want %v: %q", c.res, hasERR, c.code != CodeAA, a.Bytes)
		}
	}
	// The accept acknowledgement of the same message is unchanged.
	if a := BuildAck(withModes("AL", "AL"), nil, "X", ackTime); a.Code != CodeCA || a.Suppressed || !a.AppAckRequested {
		t.Errorf("accept ack beside it: %+v", a)
	}
}

// A header that declares fewer than four encoding characters, one of
// which is the usual character of a slot it leaves out (MSH-2 "^~&": the
// escape character is '&', the subcomponent separator not declared), is
// one Parse reads, so the message is stored: its ACK must be AA naming
// it, not AE for an "unreadable" header with an empty MSA-2, which tells
// the sender to fix and resend a message already on its way. The ACK
// declares the slot with a character the header does not use.
func TestBuildAckShortEncodingCharactersCollide(t *testing.T) {
	for _, enc := range []string{"^~&", "^&", "\\", "^\\"} {
		msg := "MSH|" + enc + "|SEND|FAC|FERRY|HIE|20261125120000||ADT" + enc[:1] + "A01|SHORT2|P|2.3\rPID|1||1\r"
		if _, err := Parse([]byte(msg)); err != nil {
			t.Fatalf("%s: Parse: %v", enc, err)
		}
		a := BuildAck([]byte(msg), nil, "N", ackTime)
		ack, err := Parse(a.Bytes)
		if err != nil || a.Code != CodeAA || a.MessageControlID != "SHORT2" || ack.Get("MSA-2") != "SHORT2" || ack.MSH().Get(5) != "SEND" {
			t.Errorf("%s: ack %s %q (%v): %q", enc, a.Code, a.MessageControlID, err, a.Bytes)
		}
		if d := ack.Delimiters(); !strings.HasPrefix(d.EncodingCharacters(), enc) || len(d.EncodingCharacters()) != 4 {
			t.Errorf("%s: ACK MSH-2 %q", enc, d.EncodingCharacters())
		}
	}
}

// A message whose MSH-2 declares fewer than four encoding characters has
// the missing ones as plain text; the ACK declares all four, so what it
// echoes of the header escapes them: a control id "A&B" under "^~\" must
// read "A&B" in MSA-2, not "A" then a subcomponent "B", and under "^" a
// sending application "SE~ND" is one, not two repetitions.
func TestBuildAckShortEncodingEchoesPlain(t *testing.T) {
	for _, msg := range []string{
		"MSH|^~\\|SE~ND|F&AC|FERRY|HIE|20261125120000||ADT^A01|A&B|P|2.3\rPID|1\r",
		"MSH|^|SE~ND|F&AC|FERRY|HIE|20261125120000||ADT^A01|A&B~C\\D|P|2.5.1\rPID|1\r",
		"MSH|^~&|SE~ND|F\\AC|FERRY|HIE|20261125120000||ADT^A01|A\\B|P|2.3\rPID|1\r",
	} {
		m, err := Parse([]byte(msg))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		a := BuildAck([]byte(msg), nil, "N", ackTime)
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatalf("ACK does not parse: %v", err)
		}
		for _, c := range []struct{ ack, msg string }{{"MSA-2", "MSH-10"}, {"MSH-5", "MSH-3"}, {"MSH-6", "MSH-4"}} {
			got := ack.Get(c.ack + "-1-1")
			want := m.Get(c.msg + "-1-1")
			if got != want {
				t.Errorf("%s: ACK %s reads %q, want %q: %q", msg[:12], c.ack, got, want, a.Bytes)
			}
			if n, want := ack.Segments()[0].Field(5).NumReps(), m.MSH().Field(3).NumReps(); c.ack == "MSH-5" && n != want {
				t.Errorf("%s: ACK MSH-5 has %d repetitions, MSH-3 %d: %q", msg[:12], n, want, a.Bytes)
			}
		}
	}
}

// The ACK's MSH-7 carries the time zone offset, whose sign may be one of
// the delimiters the sender chose: '-' as field separator would split
// MSH-7 and shift every later field (MSH-10 reading "ACK"), '+' as the
// component separator cut the offset off as a second component. The time
// is then written without the offset, which HL7 allows, and the fields
// stay where they are.
func TestBuildAckTimeWithDelimiterSign(t *testing.T) {
	east := time.Date(2026, 11, 25, 21, 30, 5, 0, time.FixedZone("", 3600))
	for _, c := range []struct {
		msg string
		now time.Time
	}{
		{"MSH-^~\\&-SEND-FAC-FERRY-HIE-20261125120000--ADT^A01-CTRL1-P-2.5.1\rPID-1\r", ackTime},
		{"MSH|+~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT+A01|CTRL1|P|2.5.1\rPID|1\r", east},
		{"MSH|^-\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01|CTRL1|P|2.5.1\rPID|1\r", ackTime},
	} {
		a := BuildAck([]byte(c.msg), nil, "N", c.now)
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatalf("ACK does not parse: %v: %q", err, a.Bytes)
		}
		if ack.ControlID() != "N" || ack.Get("MSA-2") != "CTRL1" || ack.Type().Code != "ACK" {
			t.Errorf("ACK MSH-10 %q, MSA-2 %q, MSH-9 %q: %q", ack.ControlID(), ack.Get("MSA-2"), ack.Type().Code, a.Bytes)
		}
		f := ack.MSH().Field(7)
		if got := f.Rep(1).Comp(1).String(); got != "20261125213005" || f.NumReps() != 1 || f.Rep(1).Comp(2).String() != "" {
			t.Errorf("ACK MSH-7 = %q: %q", f.Raw(), a.Bytes)
		}
	}
}
