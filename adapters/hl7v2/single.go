package hl7v2

import "strconv"

// CheckOneMessage checks that msg, the content of one MLLP frame, is one
// message: MLLP carries a message per frame, and the sender waits for that
// message's ACK. A frame that holds a second MSH, or an HL7 batch (FHS,
// BHS, BTS, FTS), cannot be acknowledged: one ACK names one MSH-10, and
// several ACKs for one frame would be read as the answers to the frames
// the sender sends next. CheckOneMessage returns nil for one message (it
// does not allocate then), and otherwise the refusal of the whole frame:
// AR with ERR-3 100 (segment sequence error), located at the first
// segment that begins another message or a batch (MSH^2, BHS^1), with a
// PHI-free text that counts the messages.
//
// Segments are found as SplitBatch finds them (CR, LF or CRLF endings;
// leading blanks, tabs, start-block bytes and byte-order marks skipped),
// so a frame it passes is one SplitBatch reads as one message.
func CheckOneMessage(msg []byte) *AckError {
	b := msg
	var (
		first   string // the first segment that breaks the rule
		seq     int    // its sequence among segments of its name
		headers int    // MSH segments
		batch   bool
	)
	for {
		for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
			b = b[1:]
		}
		b = trimLineStart(b)
		if len(b) >= 3 {
			switch string(b[:3]) {
			case "MSH":
				headers++
				if headers == 2 && first == "" {
					first, seq = "MSH", 2
				}
			case "FHS", "BHS", "BTS", "FTS":
				batch = true
				if first == "" {
					first, seq = string(b[:3]), 1
				}
			}
		}
		i := indexEOL(b)
		if i < 0 {
			break
		}
		b = b[i+1:]
	}
	if first == "" {
		return nil
	}
	n := strconv.Itoa(headers) + " messages"
	if headers == 1 {
		n = "1 message"
	}
	text := "this frame holds " + n + "; MLLP carries one message per frame, each answered by its own ACK, so none of them was accepted: send each message in a frame of its own"
	if batch {
		text = "this frame holds an HL7 batch (" + first + ") of " + n + "; MLLP carries one message per frame, each answered by its own ACK, so none of them was accepted: send each message in a frame of its own, without batch segments"
	}
	return &AckError{Code: CodeAR, ErrCode: ErrSegmentSequence, Segment: first, Sequence: seq, Text: text}
}
