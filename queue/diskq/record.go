package diskq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// castagnoli is the CRC-32C table; Go uses the SSE4.2/ARMv8 instruction for
// it, so checking every record costs next to nothing.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record types. The numbers are stored on disk: never renumber them.
const (
	recPut  byte = 1 // an item (or a relocated copy of one)
	recAck  byte = 2 // the item with this seq is settled (delivered or dead-lettered)
	recNack byte = 3 // the item with this seq was released; new attempt count (and not-before time)
	// recPutFile is a PUT whose body is a file in <dir>/bodies: the record
	// ends with the file's uvarint-prefixed name and its u64 size instead
	// of the body.
	recPutFile byte = 4
	// recPutSealed is a PUT whose body is sealed (seal.Key.Seal, aad = the
	// item ID): written when the queue has a key. The metadata before the
	// body stays readable, so replay needs no key.
	recPutSealed byte = 5
	// recPutFileSealed is a recPutFile whose body file is a sealed stream
	// (aad bodyAAD(item ID)); the recorded size is the file's, on disk.
	recPutFileSealed byte = 6
	// recAfter, set on a PUT type (1, 4, 5 or 6), says that the record
	// carries the item's After keys right after its key: uvarint n |
	// n * uvarint-prefixed key. Only items with After keys set it, so
	// every other record is written (and every record written before it
	// existed is read) exactly as before.
	recAfter byte = 0x80
)

// maxAfterKeys bounds Item.After: each key costs an entry in memory and
// in the record, and a merge names one or two retired records.
const maxAfterKeys = queue.MaxAfter

const (
	// recHeaderLen is len(u32) + crc(u32) + type(u8).
	recHeaderLen = 9
	// maxRecordLen bounds the length field so a corrupt length cannot make
	// recovery allocate gigabytes.
	maxRecordLen = 1 << 30
	// putFixedLen is seq(u64) + enqueued(i64) + attempts(u32).
	putFixedLen = 20
	// nackLen is seq(u64) + attempts(u32); nackDueLen adds the
	// not-before time and the time of writing, unix ns (i64 each).
	nackLen    = 12
	nackDueLen = 28
)

// errCorrupt marks a record that fails its CRC or cannot be decoded.
var errCorrupt = errors.New("corrupt record")

// encodePutHead builds the head of a PUT record for it: everything but
// the body, which the writer appends straight from it.Body (so a bundle is
// copied once, into the batch buffer). The seq field (at recHeaderLen) and
// the header are left for sealRecord, which the writer calls on the whole
// record once it has assigned the sequence number. With file set, the
// record is a recPutFile that refers to the body file (of fsize bytes) in
// the bodies directory and is complete without a body. With sealed set the
// record type says that the body (or body file) is sealed; room is left
// for extra bytes of body to be appended without a new allocation.
func encodePutHead(it *queue.Item, file string, fsize int64, sealed bool, extra int) []byte {
	n := recHeaderLen + putFixedLen +
		uvarintLen(len(it.ID)) + len(it.ID) +
		uvarintLen(len(it.Key)) + len(it.Key) +
		uvarintLen(len(it.Source)) + len(it.Source) +
		afterLen(it.After) +
		uvarintLen(len(it.Attrs))
	for k, v := range it.Attrs {
		n += uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v)
	}
	if file != "" {
		n += uvarintLen(len(file)) + len(file) + 8
	}
	b := make([]byte, recHeaderLen+putFixedLen, n+extra)
	switch {
	case file != "" && sealed:
		b[8] = recPutFileSealed
	case file != "":
		b[8] = recPutFile
	case sealed:
		b[8] = recPutSealed
	default:
		b[8] = recPut
	}
	if len(it.After) > 0 {
		b[8] |= recAfter
	}
	binary.LittleEndian.PutUint64(b[recHeaderLen+8:], uint64(it.Enqueued.UnixNano()))
	binary.LittleEndian.PutUint32(b[recHeaderLen+16:], uint32(it.Attempts))
	b = appendString(b, it.ID)
	b = appendString(b, it.Key)
	if len(it.After) > 0 {
		b = binary.AppendUvarint(b, uint64(len(it.After)))
		for _, k := range it.After {
			b = appendString(b, k)
		}
	}
	b = appendString(b, it.Source)
	b = binary.AppendUvarint(b, uint64(len(it.Attrs)))
	for k, v := range it.Attrs {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	if file != "" {
		b = appendString(b, file)
		b = binary.LittleEndian.AppendUint64(b, uint64(fsize))
	}
	return b
}

// encodeAck builds an ACK record for seq.
func encodeAck(seq uint64) []byte {
	b := make([]byte, recHeaderLen+8)
	b[8] = recAck
	binary.LittleEndian.PutUint64(b[recHeaderLen:], seq)
	sealRecord(b)
	return b
}

// encodeNack builds a NACK record for seq with the new attempt count.
// A non-zero due (unix ns) is the time before which the item is not to
// be handed out again (queue.NotBeforeDurable), kept so that it holds
// across a restart; the record then carries it after the count, with
// the time it was written (since), which bounds the wait should the
// clock be set back meanwhile (see replayDue).
func encodeNack(seq uint64, attempts int, due, since int64) []byte {
	n := nackLen
	if due != 0 {
		n = nackDueLen
	}
	b := make([]byte, recHeaderLen+n)
	b[8] = recNack
	binary.LittleEndian.PutUint64(b[recHeaderLen:], seq)
	binary.LittleEndian.PutUint32(b[recHeaderLen+8:], uint32(attempts))
	if due != 0 {
		binary.LittleEndian.PutUint64(b[recHeaderLen+12:], uint64(due))
		binary.LittleEndian.PutUint64(b[recHeaderLen+20:], uint64(since))
	}
	sealRecord(b)
	return b
}

// setSeq stores seq in a PUT record; sealRecord must follow.
func setSeq(b []byte, seq uint64) { binary.LittleEndian.PutUint64(b[recHeaderLen:], seq) }

// sealRecord fills in the length and CRC of a complete record.
func sealRecord(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)-8))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
}

// parseHeader returns the total record length (header included) announced
// by the first recHeaderLen bytes of b, or 0 when the length is impossible.
func parseHeader(b []byte) int {
	l := binary.LittleEndian.Uint32(b[0:])
	if l < 1 || l > maxRecordLen {
		return 0
	}
	return int(l) + 8
}

// checkRecord verifies the CRC of the complete record rec.
func checkRecord(rec []byte) error {
	want := binary.LittleEndian.Uint32(rec[4:])
	if got := crc32.Checksum(rec[8:], castagnoli); got != want {
		return fmt.Errorf("%w: crc32c %08x, want %08x", errCorrupt, got, want)
	}
	if hasAfter(rec) && !isPut(rec) {
		return fmt.Errorf("%w: unknown type %d", errCorrupt, rec[8])
	}
	switch recType(rec) {
	case recPut, recPutFile, recPutSealed, recPutFileSealed:
		if len(rec) < recHeaderLen+putFixedLen {
			return fmt.Errorf("%w: short put record", errCorrupt)
		}
	case recAck:
		if len(rec) != recHeaderLen+8 {
			return fmt.Errorf("%w: ack record of %d bytes", errCorrupt, len(rec))
		}
	case recNack:
		if len(rec) != recHeaderLen+nackLen && len(rec) != recHeaderLen+nackDueLen {
			return fmt.Errorf("%w: nack record of %d bytes", errCorrupt, len(rec))
		}
	default:
		return fmt.Errorf("%w: unknown type %d", errCorrupt, rec[8])
	}
	return nil
}

// shapeOK reports whether rec, a record whose CRC is not checked yet, has
// a known type and a length that type can have: the cheap part of
// checkRecord, for resync to rule out most offsets before their CRC.
func shapeOK(rec []byte) bool {
	if hasAfter(rec) && !isPut(rec) {
		return false
	}
	switch recType(rec) {
	case recPut, recPutFile, recPutSealed, recPutFileSealed:
		return len(rec) >= recHeaderLen+putFixedLen
	case recAck:
		return len(rec) == recHeaderLen+8
	case recNack:
		return len(rec) == recHeaderLen+nackLen || len(rec) == recHeaderLen+nackDueLen
	}
	return false
}

// recSeq returns the seq of a checked record of any type.
func recSeq(rec []byte) uint64 { return binary.LittleEndian.Uint64(rec[recHeaderLen:]) }

// nackAttempts returns the attempt count of a checked NACK record.
func nackAttempts(rec []byte) int { return int(binary.LittleEndian.Uint32(rec[recHeaderLen+8:])) }

// nackDue returns the not-before time (unix ns) of a checked NACK record
// and when the record was written, 0 when it has none.
func nackDue(rec []byte) (due, since int64) {
	if len(rec) < recHeaderLen+nackDueLen {
		return 0, 0
	}
	return int64(binary.LittleEndian.Uint64(rec[recHeaderLen+12:])), int64(binary.LittleEndian.Uint64(rec[recHeaderLen+20:]))
}

// replayDue is when an item whose NACK record, written at since, asked
// for due is handed out after a restart at now: at due, but no later
// than the whole wait from now, should the clock have been set back (a
// clinic PC started with a flat clock battery) and due be far ahead.
func replayDue(due, since int64, now time.Time) time.Time {
	return time.Unix(0, now.UnixNano()+min(due-now.UnixNano(), due-since))
}

// recType is a record's type without the recAfter flag.
func recType(rec []byte) byte { return rec[8] &^ recAfter }

// isPut reports whether a checked record is a PUT of any kind.
func isPut(rec []byte) bool {
	switch recType(rec) {
	case recPut, recPutFile, recPutSealed, recPutFileSealed:
		return true
	}
	return false
}

// hasFile reports whether a checked PUT record refers to a body file.
func hasFile(rec []byte) bool { t := recType(rec); return t == recPutFile || t == recPutFileSealed }

// isSealed reports whether a checked PUT record's body (or body file) is
// sealed.
func isSealed(rec []byte) bool { t := recType(rec); return t == recPutSealed || t == recPutFileSealed }

// hasAfter reports whether a checked PUT record carries After keys.
func hasAfter(rec []byte) bool { return rec[8]&recAfter != 0 }

// afterLen is the encoded size of After keys in a PUT record.
func afterLen(after []string) int {
	if len(after) == 0 {
		return 0
	}
	n := uvarintLen(len(after))
	for _, k := range after {
		n += uvarintLen(len(k)) + len(k)
	}
	return n
}

// afterKeys reads the After keys of a PUT record that has them.
func (d *decoder) afterKeys() []string {
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > maxAfterKeys || n > uint64(len(d.b))) {
		d.err = fmt.Errorf("%w: %d after keys", errCorrupt, n)
	}
	if d.err != nil {
		return nil
	}
	after := make([]string, n)
	for i := range after {
		after[i] = d.str()
	}
	return after
}

// putHead is the part of a PUT record that recovery keeps in memory.
type putHead struct {
	seq      uint64
	enqueued int64
	attempts int
	id, key  string
	after    []string // Item.After (a recAfter record only)
	file     string   // body file name (recPutFile only)
	fsize    int64    // its size
}

// decodePutHead decodes the metadata of a checked PUT record without
// copying the body or the attributes.
func decodePutHead(rec []byte) (putHead, error) {
	p := rec[recHeaderLen:]
	h := putHead{
		seq:      binary.LittleEndian.Uint64(p[0:]),
		enqueued: int64(binary.LittleEndian.Uint64(p[8:])),
		attempts: int(binary.LittleEndian.Uint32(p[16:])),
	}
	d := decoder{b: p[putFixedLen:]}
	h.id = d.str()
	h.key = d.str()
	if hasAfter(rec) {
		h.after = d.afterKeys()
	}
	if hasFile(rec) {
		d.str() // source
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			d.err = fmt.Errorf("%w: %d attrs", errCorrupt, n)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			d.str()
			d.str()
		}
		h.file, h.fsize = d.fileRef()
	}
	if d.err != nil {
		return h, fmt.Errorf("decode put %d: %w", h.seq, d.err)
	}
	return h, nil
}

// decodePut decodes a checked PUT record into a new Item; the body is
// copied (for a recPutSealed: the sealed blob, which the caller opens).
// For a recPutFile the body stays in its file: file and fsize name it, and
// the caller sets the item's Open and Size.
func decodePut(rec []byte) (*queue.Item, uint64, string, int64, error) {
	p := rec[recHeaderLen:]
	seq := binary.LittleEndian.Uint64(p[0:])
	it := &queue.Item{
		Enqueued: time.Unix(0, int64(binary.LittleEndian.Uint64(p[8:]))),
		Attempts: int(binary.LittleEndian.Uint32(p[16:])),
	}
	d := decoder{b: p[putFixedLen:]}
	it.ID = d.str()
	it.Key = d.str()
	if hasAfter(rec) {
		it.After = d.afterKeys()
	}
	it.Source = d.str()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return nil, seq, "", 0, fmt.Errorf("decode put %d: %w: %d attrs", seq, errCorrupt, n)
		}
		it.Attrs = make(map[string]string, n)
		for range n {
			k := d.str()
			it.Attrs[k] = d.str()
		}
	}
	if hasFile(rec) {
		file, fsize := d.fileRef()
		if d.err != nil {
			return nil, seq, "", 0, fmt.Errorf("decode put %d: %w", seq, d.err)
		}
		return it, seq, file, fsize, nil
	}
	if d.err != nil {
		return nil, seq, "", 0, fmt.Errorf("decode put %d: %w", seq, d.err)
	}
	it.Body = append([]byte(nil), d.b...)
	return it, seq, "", 0, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// decoder reads length-prefixed fields and remembers the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", errCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// fileRef reads the body file reference that ends a recPutFile.
func (d *decoder) fileRef() (string, int64) {
	name := d.str()
	if d.err != nil {
		return "", 0
	}
	if len(d.b) != 8 || !validBodyName(name) {
		d.err = fmt.Errorf("%w: bad body file reference", errCorrupt)
		return "", 0
	}
	return name, int64(binary.LittleEndian.Uint64(d.b))
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: field of %d bytes past end", errCorrupt, n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
