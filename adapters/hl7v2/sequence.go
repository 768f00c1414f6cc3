package hl7v2

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sequence is what a message says of the HL7 sequence number protocol
// (v2.3 §2.23.1, "Sequence number protocol"; MSH-13, MSA-4). A sender that
// uses it numbers the messages of one stream 1, 2, 3 …; 0 (re)starts the
// link and -1 asks to resynchronise, both in a message with no content
// (MSH only), which the receiver answers with a general acknowledgement
// whose MSA-4 is the sequence number it expects next (-1 when it has
// none: it takes the next message's number as the new start).
type Sequence struct {
	// Number is MSH-13: -1, 0 or a positive integer.
	Number int64
	// Stream names the stream the number counts in: the sending and the
	// receiving application and facility (MSH-3 to MSH-6, as sent).
	Stream string
	// Content is true when the message holds a segment other than MSH. A
	// link start (0) or a resynchronisation (-1) holds none; a sender that
	// puts 0 in MSH-13 of every message (some do, meaning "no sequence
	// number") does not use the protocol, and its messages are ordinary.
	Content bool
}

// Control reports whether the message is the protocol's own: a link start
// (0) or a resynchronisation (-1) with no content.
func (s Sequence) Control() bool { return s.Number <= 0 && !s.Content }

// maxSequence is the largest sequence number: MSH-13 is NM of at most 15
// characters (the MSH attribute table of v2.3 to v2.5). It also keeps the
// number expected next (the last plus one) from wrapping past the top of
// an int64.
const maxSequence = 999_999_999_999_999

// ReadSequence reads MSH-13 from the header of msg without parsing the
// message, and allocates only when MSH-13 is valued. ok is false when
// MSH-13 is empty or HL7's explicit null (`""`), or the header cannot be
// read: the message does not take part in the protocol. err is set (with
// ok true) when MSH-13 is valued but is not an integer from -1 to
// maxSequence.
func ReadSequence(msg []byte) (seq Sequence, ok bool, err error) {
	msg = TrimEnvelope(msg) // what Parse skips before the MSH
	if len(msg) < 8 || string(msg[:3]) != "MSH" {
		return Sequence{}, false, nil
	}
	fs := msg[3]
	if !okDelim(fs) {
		return Sequence{}, false, nil
	}
	end := bytes.IndexAny(msg, "\r\n")
	if end < 0 {
		end = len(msg)
	}
	seg := msg[4:end]
	// seg holds MSH-2 onwards: field k (k ≥ 2) is the (k-2)-th between
	// separators.
	var fields [12][]byte // MSH-2 … MSH-13
	enc, _, _ := bytes.Cut(seg, []byte{fs})
	set := headerSet(msg[:end], fs, enc)
	n := 0
	for n < len(fields) {
		i := indexSep(seg, fs, set)
		if i < 0 {
			fields[n] = seg
			n++
			break
		}
		fields[n] = seg[:i]
		seg = seg[i+1:]
		n++
	}
	if n < len(fields) {
		return Sequence{}, false, nil
	}
	raw := fields[11]
	if enc := fields[0]; len(enc) > 0 {
		// The first component only: MSH-13 is NM, but a stray component
		// separator must not make it unreadable.
		if i := bytes.IndexByte(raw, enc[0]); i >= 0 {
			raw = raw[:i]
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == `""` {
		return Sequence{}, false, nil
	}
	num, perr := strconv.ParseInt(string(raw), 10, 64)
	if perr != nil || num < -1 || num > maxSequence {
		return Sequence{}, true, fmt.Errorf("MSH-13 (sequence number) %q is not an integer from -1 to %d", dropControls(string(raw)), int64(maxSequence))
	}
	stream := string(bytes.Join([][]byte{fields[1], fields[2], fields[3], fields[4]}, []byte{fs}))
	rest := msg[end:]
	return Sequence{
		Number:  num,
		Stream:  dropControls(stream),
		Content: hasText(rest),
	}, true, nil
}

// hasText reports whether b holds a byte other than space, DEL and the
// control bytes (segment terminators, MLLP framing): a segment.
func hasText(b []byte) bool {
	for _, c := range b {
		if c > ' ' && c != 0x7f {
			return true
		}
	}
	return false
}

// BuildAckExpecting is BuildAck with MSA-4, the expected sequence number
// of the sequence number protocol, set to expected (none when empty):
// the number the receiver wants next on the message's stream, or -1.
func BuildAckExpecting(msg []byte, result error, controlID string, now time.Time, expected string) Ack {
	return buildAck(msg, result, controlID, now, false, expected)
}

// msaTail writes what follows MSA-2: MSA-3 (free text, for versions whose
// ERR has no room for it) and MSA-4 (the expected sequence number).
func msaTail(b *bytes.Buffer, fs, text, expected string) {
	if text == "" && expected == "" {
		return
	}
	b.WriteString(fs + text)
	if expected != "" {
		b.WriteString(fs + strings.TrimSpace(expected))
	}
}
