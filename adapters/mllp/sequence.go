package mllp

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

// seqAnswer is what the sequence number protocol adds to a message's
// answer.
type seqAnswer struct {
	// expected is MSA-4: the number the listener expects next on the
	// message's stream, "-1" when it has none; empty outside the protocol.
	expected string
	// refused is set when a gap was refused (SequenceEnforce): the AR is
	// the protocol's answer, and the connection stays open for the
	// message expected.
	refused bool
}

// sequenced hands a message to consume, taking part in the HL7 sequence
// number protocol (v2.3 §2.23.1) when the listener keeps a SequenceStore
// and the message's MSH-13 is valued. Following the protocol, the number
// a message carries is recorded as the stream's last before the message
// is acknowledged, and after the message is kept (stored, found a
// duplicate, or quarantined): a crash between the two has the sender
// resend the message under the same number, and the queue's duplicate
// check keeps that harmless.
//
// The protocol's rule for a repeat (a number not above the last
// accepted) is that the receiver need not process it again; ferry hands
// it to consume all the same, where a true resend is found a duplicate
// and anything else (a sender that restarted its numbering without a
// link start) is kept rather than lost.
func (s *Source) sequenced(log *slog.Logger, body []byte, consume func() error) (seqAnswer, error) {
	store := s.cfg.Sequences
	if store == nil {
		return seqAnswer{}, consume()
	}
	seq, ok, err := hl7v2.ReadSequence(body)
	if !ok {
		return seqAnswer{}, consume()
	}
	if err != nil {
		// Not a number: not the protocol. The message is handled as any
		// other; the note says why MSA-4 stays empty.
		log.Debug("mllp MSH-13 is not a sequence number; ignoring it", "err", err)
		return seqAnswer{}, consume()
	}
	stream := s.set.ID + " " + seq.Stream
	unlock := store.lock(stream)
	defer unlock()
	last, known := store.Last(stream)
	expected := "-1"
	if known {
		expected = strconv.FormatInt(last+1, 10)
	}
	attrs := func(more ...any) []any {
		return append([]any{"stream", seq.Stream, "sequence", seq.Number, "expected", expected}, more...)
	}
	switch {
	case seq.Control() && seq.Number == 0:
		// A link start: the answer tells the sender where to go on.
		s.stats.seqStarts.Add(1)
		log.Info("mllp sequence link start", attrs()...)
		return seqAnswer{expected: expected}, nil
	case seq.Control() && !known:
		// A resynchronisation of a stream that has no number: nothing to
		// forget, and nothing written for a stream the store may never
		// keep.
		s.stats.seqResyncs.Add(1)
		log.Info("mllp sequence resynchronised: the next number starts the stream", attrs()...)
		return seqAnswer{expected: "-1"}, nil
	case seq.Control():
		// A resynchronisation: the next number accepted is the new start.
		if err := store.Set(stream, -1); err != nil {
			log.Error("mllp sequence resynchronisation not recorded", attrs("err", err)...)
			return seqAnswer{expected: expected}, fmt.Errorf("record the resynchronisation of sequence numbers: %w", err)
		}
		s.stats.seqResyncs.Add(1)
		log.Info("mllp sequence resynchronised: the next number starts the stream", attrs()...)
		return seqAnswer{expected: "-1"}, nil
	case seq.Number <= 0:
		// 0 or -1 on a message with content: a sender that fills MSH-13
		// without speaking the protocol. Its message is an ordinary one.
		return seqAnswer{expected: expected}, consume()
	}
	if !known && !store.admit(stream) {
		// Too many streams, or a name too long, to keep another: the
		// message is an ordinary one (no MSA-4), rather than refused.
		s.seqNote(log, slog.LevelWarn, "mllp sequence numbers: no room for another stream (too many, or MSH-3 to MSH-6 too long); handling this message without its number; `ferry sequences list` shows the streams kept and `ferry sequences reset STREAM --yes` frees one no longer used",
			[]any{"sequence", seq.Number, "stream_bytes", len(seq.Stream), "max_streams", maxSeqStreams})
		return seqAnswer{}, consume()
	}
	gap := known && seq.Number > last+1
	if gap && s.cfg.SequenceMode == SequenceEnforce {
		s.stats.seqGaps.Add(1)
		s.stats.seqRefused.Add(1)
		log.Warn("mllp sequence gap: message refused (sequence_numbers: enforce); the sender must send the number expected", attrs()...)
		return seqAnswer{expected: expected, refused: true}, &hl7v2.AckError{Code: hl7v2.CodeAR, ErrCode: hl7v2.ErrApplication, Segment: "MSH", Field: 13,
			Text: fmt.Sprintf("sequence number %d is not the one expected, %d: nothing was stored; send %d next, or -1 to resynchronise", seq.Number, last+1, last+1)}
	}
	res := consume()
	if res != nil && !queue.IsPermanent(res) {
		// Not kept: the sender sends it again under the same number.
		return seqAnswer{expected: expected}, res
	}
	if known && seq.Number <= last {
		s.stats.seqRepeats.Add(1)
		s.seqNote(log, slog.LevelInfo, "mllp sequence number repeated: handled as a resent message", attrs())
		return seqAnswer{expected: expected}, res
	}
	if gap {
		s.stats.seqGaps.Add(1)
		s.seqNote(log, slog.LevelWarn, "mllp sequence gap: messages between the one expected and this one were never received; stored this one and going on from it", attrs("missing", seq.Number-last-1))
	}
	if err := store.Set(stream, seq.Number); err != nil {
		// The message is kept, but the sender must not be told so before
		// its number is: AR has it sent again, a duplicate then.
		log.Error("mllp sequence number not recorded; answering AR", attrs("err", err)...)
		return seqAnswer{expected: expected}, fmt.Errorf("record sequence number %d: %w", seq.Number, err)
	}
	return seqAnswer{expected: strconv.FormatInt(seq.Number+1, 10)}, res
}

// seqNote logs a repeat or a gap, at most once a minute for the listener:
// a sender that fills MSH-13 with the same number in every message, or
// counts per connection, would otherwise log one line a message. The
// lines held back are counted in the next, and all of them in Stats.
func (s *Source) seqNote(log *slog.Logger, level slog.Level, msg string, attrs []any) {
	s.seqLogMu.Lock()
	ok, held := s.seqLog.allow(time.Now())
	s.seqLogMu.Unlock()
	if !ok {
		return
	}
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	log.Log(context.Background(), level, msg, attrs...)
}

// Sequences returns the last sequence number accepted on each stream of
// this listener (the stream named by MSH-3 to MSH-6, as sent); nil when
// the listener keeps none.
func (s *Source) Sequences() map[string]int64 {
	if s.cfg.Sequences == nil {
		return nil
	}
	prefix := s.set.ID + " "
	out := map[string]int64{}
	for k, n := range s.cfg.Sequences.Streams() {
		if stream, ok := strings.CutPrefix(k, prefix); ok {
			out[stream] = n
		}
	}
	return out
}
