package ehrdrop

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue"
)

// Meta keys of a document taken from an archive. Its "file" stays the
// archive's name; "size" and "sha256" are the entry's, so that audit
// events and logs name the document, and the same document in two
// different archives has one digest.
const (
	MetaEntry         = "entry"          // the entry's path in the archive
	MetaArchiveSHA256 = "archive_sha256" // hex SHA-256 of the whole archive
	MetaXDMUniqueID   = "xdm_unique_id"  // XDSDocumentEntry.uniqueId from METADATA.XML
	MetaXDMMimeType   = "xdm_mime_type"  // the document's mimeType from METADATA.XML
)

// zipLimits bound the work one archive can make. The folder engine puts no
// upper bound on a single file (beyond max_body_bytes it streams it), and a
// file costs about its size to read. An archive multiplies that: each entry
// is inflated up to three times (to hash, to sniff, to convert), and a few
// kilobytes of deflated zeros stand for gigabytes.
type zipLimits struct {
	// entries bounds the central directory, folders included.
	entries int
	// bytes bounds the sum of the entries' declared sizes. Every read is
	// held to the declared size, so this bounds what is inflated too.
	bytes int64
	// ratio bounds an entry's inflated size over its stored size. Deflate
	// tops out near 1032:1, which only long runs of one byte reach (the
	// classic bomb); exported XML and JSON compress 5 to 30 times.
	ratio uint64
	// ratioFloor exempts small entries from ratio: a short run of blank
	// lines costs nothing however well it compresses.
	ratioFloor uint64
}

// defaultZipLimits: 10,000 entries is well above any XDM package and the
// per-resource files of an EHI export; 2 GiB inflated is a large export,
// yet one whose bundles fit the queue's default 10 GiB several times over.
// A larger export is unpacked into the folder, where each file is read on
// its own.
var defaultZipLimits = zipLimits{entries: 10_000, bytes: 2 << 30, ratio: 200, ratioFloor: 1 << 20}

// maxMetadataBytes bounds METADATA.XML; a submission set of a few hundred
// documents takes well under a MiB.
const maxMetadataBytes = 16 << 20

// zipStep is one document of an archive, in the order they are consumed:
// an entry to sniff and hand on, or, with err set, a document that cannot
// be (METADATA.XML lists it but the archive lacks it).
type zipStep struct {
	name string    // the entry's path in the archive, with '/' separators
	f    *zip.File // nil when err is set
	meta map[string]string
	// xdm is what METADATA.XML says of the document, when it lists it.
	xdm *xdmfhir.Entry
	err error
}

// consumeZip reads a ZIP drop. An EHR or a Direct mailbox often delivers
// one: an XDM package (IHE ITI-32: IHE_XDM/SUBSETnn/ with METADATA.XML and
// the documents, INDEX.HTM and README.TXT at the root) or an EHI export of
// NDJSON, C-CDA, HL7 or CSV files (a CSV is read when a csv mapping of
// the folder matches the entry's name). The archive is read in place with
// archive/zip, never extracted to disk, and each document in it goes to the
// Consumer as its own Raw, named "<archive>: <entry>" and carrying the
// entry's own size and SHA-256, so that it is converted, deduplicated,
// quarantined and audited exactly as if it had been dropped alone.
//
// Which entries are documents:
//   - In an XDM package (IHE_XDM/ at the archive's root, or in its one
//     folder: see xdmRootOf), those METADATA.XML lists (its ExtrinsicObjects),
//     found by their URI slot in the subset folder. Other files of a subset
//     (stylesheets) are not documents of the submission and are left
//     alone, as are INDEX.HTM and README.TXT. A subset without a
//     METADATA.XML (or with one listing no document) has each of its
//     files sniffed instead, stylesheets excepted; one whose METADATA.XML
//     cannot be read has none of its files sent, each named.
//   - In any other archive, every file but folders and the litter of
//     desktop systems (__MACOSX/, .DS_Store, Thumbs.db, desktop.ini).
//
// A document METADATA.XML lists that is none of the formats ferry
// converts into clinical resources (a PDF referral, a scanned TIFF, plain
// text) is handed on as Format xdmfhir.Format with its XDS metadata, to be
// filed at the exchange as a DocumentReference with its Binary, as a fax
// is; the same file in any other archive, or unlisted, has no metadata to
// file it by and is not converted.
//
// The archive settles as an HL7 batch file with a bad message does: every
// document that can be converted is queued (or quarantined with its
// reason) first, and then the archive moves to done/ if all of them were
// accepted, or else to failed/, where its .error.txt names each entry that
// was not: one the converter refused (it is in the quarantine too), one in
// no format ferry converts (a PDF outside an XDM package, a CSV no csv
// mapping of the folder matches, a ZIP inside the ZIP), an XDM document whose size or hash is not the one
// METADATA.XML gives, a file METADATA.XML lists for two documents, a
// file a Bulk Data export's manifest lists that the archive lacks (see
// manifestMissing), a document METADATA.XML lists that the archive lacks or gives no URI for (and then each file of its subset that
// METADATA.XML does not place, which may be that document). The archive in
// failed/ is the copy of those entries. A transient failure (queue full)
// leaves the archive in processing/ to be consumed again whole; the
// pipeline's dedup drops the documents already queued.
//
// An archive that could harm the gateway is refused whole, before any
// entry is consumed: see checkZip.
func (s *Source) consumeZip(ctx context.Context, in adapters.Raw) error {
	zr, size, closeFn, err := openZip(in, s.zip.entries)
	if err != nil {
		return zipErr(in.Name, err)
	}
	defer closeFn()
	steps, badSources, err := planZip(zr, size, s.zip)
	if err != nil {
		return zipErr(in.Name, err)
	}
	for _, b := range badSources {
		// The value is the sender's, not PHI by intent, but free text
		// all the same: shown only with log_phi. The archive is named
		// by its hash, as the pipeline names inputs.
		args := []any{"sha256", shortHash(in.Meta[folder.MetaSHA256]), "subset", b.subset}
		if s.logPHI {
			args = append(args, "source_id", b.value)
		}
		s.log.Warn("ehrdrop: XDM submission set sourceId is not an OID; its documents are filed under the folder's source_id or fax.source_id", args...)
	}
	if len(steps) == 0 {
		return queue.Permanent(fmt.Errorf("ehrdrop: %s: the archive holds no document (nothing but folders, INDEX.HTM, README.TXT, stylesheets or desktop files)", in.Name))
	}
	// The archive's files by name, for a Bulk Data manifest to be
	// checked against.
	held := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		held[strings.ToLower(path.Base(entryName(f)))] = true
	}
	var problems []error
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if st.err != nil {
			problems = append(problems, fmt.Errorf("%s: %s: %w", in.Name, st.name, st.err))
			continue
		}
		err := s.consumeEntry(ctx, in, st, held)
		switch {
		case err == nil:
		case queue.IsPermanent(err):
			problems = append(problems, err)
		default:
			// The engine logs a transient error with the archive's name
			// hidden (unless log_phi); an entry's name may be a
			// patient's too, so it becomes its number.
			if !s.logPHI {
				err = &renamedError{msg: strings.ReplaceAll(err.Error(), st.name, "entry "+strconv.Itoa(i+1)), err: err}
			}
			return fmt.Errorf("ehrdrop: %w", err)
		}
	}
	if len(problems) > 0 {
		return queue.Permanent(fmt.Errorf("ehrdrop: %s: %d of %d documents accepted; not accepted:\n%w",
			in.Name, len(steps)-len(problems), len(steps), errors.Join(problems...)))
	}
	return nil
}

// zipErr is an error about the archive as a whole: permanent when the
// archive is refused or unreadable, transient when reading the file failed.
func zipErr(name string, err error) error {
	err = fmt.Errorf("ehrdrop: %s: %w", name, err)
	if isDataErr(err) {
		return queue.Permanent(err)
	}
	return err
}

// renamedError is an error whose text had a name replaced.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// errRefused marks an archive or entry that is not read: trying again
// cannot help.
var errRefused = errors.New("refused")

// refuse returns an error that wraps errRefused without saying so.
func refuse(format string, args ...any) error {
	return &renamedError{msg: fmt.Sprintf(format, args...), err: errRefused}
}

// isDataErr reports whether err is about the archive's content (refused,
// corrupt, an unsupported method) rather than reading the file: a
// permanent failure.
func isDataErr(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, errRefused) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) ||
		errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt)
}

// openZip opens the archive from its Body, or, above the in-memory limit,
// from the claimed file itself, which the engine's Open returns as an
// *os.File. An archive of more than maxEntries entries is refused before
// archive/zip reads its central directory (see centralCount).
func openZip(in adapters.Raw, maxEntries int) (*zip.Reader, int64, func(), error) {
	var ra io.ReaderAt
	size := int64(len(in.Body))
	closeFn := func() {}
	if in.Body != nil || in.Open == nil {
		ra = bytes.NewReader(in.Body)
	} else {
		rc, err := in.Open()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("open: %w", err)
		}
		f, ok := rc.(interface {
			io.ReaderAt
			Stat() (fs.FileInfo, error)
		})
		if !ok {
			rc.Close()
			return nil, 0, nil, refuse("the archive cannot be read in place")
		}
		info, err := f.Stat()
		if err != nil {
			rc.Close()
			return nil, 0, nil, fmt.Errorf("open: %w", err)
		}
		ra, size, closeFn = f, info.Size(), func() { rc.Close() }
	}
	if n, ok := centralCount(ra, size, maxEntries); ok && n > maxEntries {
		closeFn()
		return nil, 0, nil, refuse("the archive holds more than %d entries; at most %d are read from one archive: unpack it into the folder", maxEntries, maxEntries)
	}
	zr, err := zip.NewReader(ra, size)
	// With GODEBUG=zipinsecurepath=0 NewReader reports unsafe names but
	// still returns the reader; checkZip refuses them with the name.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		closeFn()
		if isDataErr(err) || errors.Is(err, io.EOF) {
			return nil, 0, nil, refuse("not a readable ZIP archive: %v", err)
		}
		return nil, 0, nil, fmt.Errorf("read: %w", err)
	}
	return zr, size, closeFn, nil
}

// centralCount counts the records of the archive's central directory as
// archive/zip's NewReader reads them, up to limit+1: from where the end
// record (or the ZIP64 one) places the directory, header after header
// until one is not, whatever the end record's count says (NewReader
// compares it only modulo 65,536). NewReader holds every record in memory
// (some 260 bytes and its name each) before checkZip can count them, so a
// directory of millions of one-letter names, a few hundred MB, would
// exhaust a small server's memory, and the archive, tried again at the
// restart, do it again. ok is false when no directory is found, which
// NewReader then says.
func centralCount(ra io.ReaderAt, size int64, limit int) (n int, ok bool) {
	const endLen, loc64Len, end64Len, headerLen = 22, 20, 56, 46
	le := binary.LittleEndian
	tail := make([]byte, min(size, 65*1024))
	if _, err := ra.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		return 0, false
	}
	at := -1 // the end record's offset in tail, as NewReader finds it
	for i := len(tail) - endLen; i >= 0; i-- {
		if bytes.HasPrefix(tail[i:], []byte("PK\x05\x06")) {
			if i+endLen+int(le.Uint16(tail[i+20:])) <= len(tail) {
				at = i
			}
			break
		}
	}
	if at < 0 {
		return 0, false
	}
	end := tail[at:]
	endOff := size - int64(len(tail)) + int64(at)
	dirSize, dirOff := uint64(le.Uint32(end[12:])), uint64(le.Uint32(end[16:]))
	if le.Uint16(end[10:]) == 0xffff || dirSize == 0xffff || dirOff == 0xffffffff {
		loc := make([]byte, loc64Len)
		if endOff >= loc64Len {
			if _, err := ra.ReadAt(loc, endOff-loc64Len); err != nil {
				return 0, false
			}
			if le.Uint32(loc) == 0x07064b50 && le.Uint32(loc[4:]) == 0 && le.Uint32(loc[16:]) == 1 {
				endOff = int64(le.Uint64(loc[8:]))
				end64 := make([]byte, end64Len)
				if endOff < 0 || endOff > size {
					return 0, false
				}
				if _, err := ra.ReadAt(end64, endOff); err != nil || le.Uint32(end64) != 0x06064b50 {
					return 0, false
				}
				dirSize, dirOff = le.Uint64(end64[40:]), le.Uint64(end64[48:])
			}
		}
	}
	if dirSize >= 1<<63 || dirOff >= 1<<63 {
		return 0, false
	}
	// NewReader starts where the directory ends at the end record, by
	// its size (base+dirOff), whatever the offset the record gives; but
	// when that is further in (data before the archive, as in a
	// self-extracting one) and a record lies at the offset, there: both
	// are counted, and the larger taken.
	count := func(off int64) int {
		h := make([]byte, headerLen)
		n := 0
		for n <= limit && off >= 0 && off < size {
			if _, err := ra.ReadAt(h, off); err != nil || le.Uint32(h) != 0x02014b50 {
				break
			}
			n++
			off += headerLen + int64(le.Uint16(h[28:])) + int64(le.Uint16(h[30:])) + int64(le.Uint16(h[32:]))
		}
		return n
	}
	base := endOff - int64(dirSize) - int64(dirOff)
	n = count(base + int64(dirOff))
	if base > 0 {
		n = max(n, count(int64(dirOff)))
	}
	return n, true
}

// shortHash is the first 12 hex digits of a SHA-256, as the pipeline
// names inputs in its log.
func shortHash(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// badSourceID is an XDM subset whose submission set gives a sourceId that
// is not an OID: its documents are filed under the configured one.
type badSourceID struct {
	subset int    // the subset's number, 1 for the first in name order
	value  string // what METADATA.XML gives
}

// planZip checks the archive and lists its documents, and the XDM subsets
// whose sourceId is refused.
func planZip(zr *zip.Reader, size int64, lim zipLimits) ([]zipStep, []badSourceID, error) {
	if err := checkZip(zr, size, lim); err != nil {
		return nil, nil, err
	}
	var files []*zip.File
	roots := map[string]bool{}
	for _, f := range zr.File {
		if f.Mode().IsDir() || strings.HasSuffix(entryName(f), "/") || litter(entryName(f)) {
			continue
		}
		files = append(files, f)
		if root, ok := xdmRootOf(strings.ToUpper(entryName(f))); ok {
			roots[root] = true
		}
	}
	if len(roots) > 0 {
		return planXDM(files, roots)
	}
	steps := make([]zipStep, 0, len(files))
	for _, f := range files {
		steps = append(steps, fileStep(f))
	}
	bulkOrder(steps)
	return steps, nil, nil
}

// bulkOrder puts the files of a FHIR Bulk Data export zipped whole in the
// order a folder takes them in (BulkRank: Organization.ndjson before
// Patient.ndjson before Observation.ndjson), not the archive's, which is
// most often by name: each line is keyed to its patient, so a patient's
// Encounter read before the Patient reached the exchange first and was
// refused there for naming a Patient it did not have yet. Other files
// keep their places.
func bulkOrder(steps []zipStep) {
	rank := func(st zipStep) int { return BulkRank(path.Base(st.name)) }
	var at []int
	for i, st := range steps {
		if rank(st) > 0 {
			at = append(at, i)
		}
	}
	ranked := make([]zipStep, len(at))
	for j, i := range at {
		ranked[j] = steps[i]
	}
	slices.SortStableFunc(ranked, func(a, b zipStep) int { return rank(a) - rank(b) })
	for j, i := range at {
		steps[i] = ranked[j]
	}
}

// checkZip refuses, before anything in it is read, an archive (of size
// bytes) that could harm the gateway: entry names that leave the archive
// (".." or an absolute path, which an unpacking tool would write
// elsewhere; ferry extracts nothing, but such an archive is made to
// attack), a name used twice, encrypted entries (archive/zip cannot
// decrypt), more entries or inflated bytes than lim allows, an entry that
// inflates more than lim.ratio times, and entries whose stored data
// overlap (the overlapping-file bomb, where every entry inflates the same
// bytes) or run past the end of the archive.
func checkZip(zr *zip.Reader, size int64, lim zipLimits) error {
	if len(zr.File) > lim.entries {
		return refuse("the archive holds %d entries; at most %d are read from one archive: unpack it into the folder", len(zr.File), lim.entries)
	}
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(zr.File))
	// Names are compared without regard to case: XDM URIs are matched that
	// way, and so do Windows and macOS file systems, so two entries that
	// differ only in case would stand for one document.
	names := make(map[string]bool, len(zr.File))
	var total uint64
	for i, f := range zr.File {
		name := entryName(f)
		if err := checkName(name); err != nil {
			return refuse("entry %q: %v", f.Name, err)
		}
		folded := strings.ToUpper(name)
		if names[folded] {
			return refuse("entry %q appears twice (names are compared without regard to case)", name)
		}
		names[folded] = true
		if f.Flags&0x1 != 0 {
			return refuse("entry %q is encrypted, which ferry cannot read: export the archive without a password", f.Name)
		}
		total += f.UncompressedSize64
		if total > uint64(lim.bytes) {
			return refuse("the archive inflates to more than %d bytes, the most read from one archive: unpack it into the folder", lim.bytes)
		}
		if f.UncompressedSize64 > lim.ratioFloor && f.UncompressedSize64/max(f.CompressedSize64, 1) > lim.ratio {
			return refuse("entry %q inflates %d bytes to %d, more than %d times: refused as a ZIP bomb", f.Name, f.CompressedSize64, f.UncompressedSize64, lim.ratio)
		}
		off, err := f.DataOffset()
		if err != nil {
			// A read error is retried and logged; an entry's name may be a
			// patient's, so the log gets its number.
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		if off > size || f.CompressedSize64 > uint64(size-off) {
			return refuse("entry %q runs past the end of the archive: the archive is damaged", f.Name)
		}
		spans = append(spans, span{off, off + int64(f.CompressedSize64), f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return refuse("entries %q and %q share stored data: refused as a ZIP bomb", spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

// entryName is the entry's path with '/' separators (some Windows tools
// write '\'), in UTF-8. A name that is not UTF-8 is in code page 437, the
// ZIP format's own ("If this bit is set, the filename and comment fields
// for this file MUST be encoded using UTF-8", APPNOTE 4.4.4 bit 11; else
// "IBM Code Page 437", appendix D), as Windows' compressed folders and
// older exports write it; one that is UTF-8 without that bit set is taken
// as it is, as many writers leave the bit clear. A leading "./" is left
// out: bsdtar (Windows' built-in tar.exe, macOS's tar: tar -a -cf
// package.zip .) names every entry of an archive made of a folder's "."
// from it (./IHE_XDM/SUBSET01/DOC0001.XML), the same path as without.
func entryName(f *zip.File) string {
	name := f.Name
	if !utf8.ValidString(name) {
		if d, err := charmap.CodePage437.NewDecoder().String(name); err == nil {
			name = d
		}
	}
	name = strings.ReplaceAll(name, `\`, "/")
	for len(name) > 2 && strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	return name
}

// checkName refuses a path that is empty, absolute (including a Windows
// drive), climbs out with "..", or holds a NUL.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("an empty name")
	case strings.HasPrefix(name, "/"), len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z'):
		return errors.New("an absolute path is refused")
	case strings.ContainsRune(name, 0):
		return errors.New("a NUL in the name is refused")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return errors.New("a name that leaves the archive (..) is refused")
		}
	}
	return nil
}

// litter reports whether name is a file desktop systems add to what they
// zip, which holds no clinical content.
func litter(name string) bool {
	if strings.HasPrefix(name, "__MACOSX/") {
		return true
	}
	base := path.Base(name)
	return strings.HasPrefix(base, ".") || strings.EqualFold(base, "Thumbs.db") || strings.EqualFold(base, "desktop.ini")
}

// displayAid reports whether name is a stylesheet an XDM package carries so
// that its documents display in a browser.
func displayAid(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".xsl", ".xslt", ".css":
		return true
	}
	return false
}

func fileStep(f *zip.File) zipStep {
	st := zipStep{name: entryName(f), f: f}
	if f.Mode()&fs.ModeSymlink != 0 {
		st.f, st.err = nil, errors.New("not converted: a symbolic link is not followed")
	}
	return st
}

const xdmRoot = "IHE_XDM/"

// xdmRootOf returns the folder an XDM package lies in when upper, an
// upper-cased entry name, is in the package's IHE_XDM/ folder: "" for a
// package at the archive's root, as ITI-32 places it, or its one folder
// ("PACKAGE/") for a package unpacked and zipped again as a folder
// (Windows' "Send to > Compressed (zipped) folder", macOS's Compress),
// which is the same package and holds the same labels and hashes.
func xdmRootOf(upper string) (string, bool) {
	if strings.HasPrefix(upper, xdmRoot) {
		return "", true
	}
	if i := strings.IndexByte(upper, '/'); i > 0 && strings.HasPrefix(upper[i+1:], xdmRoot) {
		return upper[:i+1], true
	}
	return "", false
}

// planXDM lists the documents of the XDM packages at roots (upper-cased,
// see xdmRootOf): subset by subset in name order, each in the order its
// METADATA.XML lists them, and then any other file but a package's
// INDEX.HTM and README.TXT, as in any archive. bad lists the subsets
// whose sourceId is not an OID.
func planXDM(files []*zip.File, roots map[string]bool) (steps []zipStep, bad []badSourceID, err error) {
	byName := make(map[string]*zip.File, len(files)) // upper-cased name → entry
	subsets := map[string][]*zip.File{}              // upper-cased subset folder → its files
	rootOf := map[string]string{}                    // upper-cased subset folder → its package's root
	var dirs []string
	var outside []zipStep
	for _, f := range files {
		name := entryName(f)
		upper := strings.ToUpper(name)
		byName[upper] = f
		root, inXDM := xdmRootOf(upper)
		inXDM = inXDM && roots[root]
		if !inXDM {
			// A file beside a package's IHE_XDM/ folder.
			if i := strings.IndexByte(upper, '/'); i > 0 && roots[upper[:i+1]] {
				root = upper[:i+1]
			} else {
				root = ""
			}
		}
		sub := upper[len(root):]
		switch {
		case roots[root] && (sub == "INDEX.HTM" || sub == "README.TXT"):
		case inXDM && strings.Contains(sub[len(xdmRoot):], "/"):
			dir := upper[:len(root)+len(xdmRoot)+strings.IndexByte(sub[len(xdmRoot):], '/')]
			if subsets[dir] == nil {
				dirs = append(dirs, dir)
				rootOf[dir] = root
			}
			subsets[dir] = append(subsets[dir], f)
		default:
			outside = append(outside, fileStep(f))
		}
	}
	sort.Strings(dirs)
	for i, dir := range dirs {
		st, badSource, err := planSubset(dir, rootOf[dir], subsets[dir], byName)
		if err != nil {
			return nil, nil, err
		}
		steps = append(steps, st...)
		if badSource != "" {
			bad = append(bad, badSourceID{subset: i + 1, value: badSource})
		}
	}
	return append(steps, outside...), bad, nil
}

// planSubset lists the documents of one subset folder (upper-cased dir)
// of the package at root (upper-cased, "" at the archive's root).
// XDM names are upper case (ISO 9660 heritage), but writers differ and so
// do URIs, so names are matched without regard to case.
//
// The submission set's sourceId, when it is an OID (faxfhir.SourceOID),
// goes with each document's metadata to become its MHD SubmissionSet's
// ihe-sourceId; one that is not is dropped and returned as badSource, for
// the caller to warn about.
//
// A METADATA.XML that is there but cannot be read leaves each file of the
// subset unsent and named: the sender's labels (confidentialityCode) and
// hashes are in it, and a document is not sent without them. err is a
// failure to read the archive's file, to be tried again.
func planSubset(dir, root string, files []*zip.File, byName map[string]*zip.File) (steps []zipStep, badSource string, err error) {
	var docs []xdmDocument
	md := byName[dir+"/METADATA.XML"]
	err = errors.New("no METADATA.XML")
	if md != nil {
		docs, err = readXDMMetadata(md)
	}
	if err == nil && docs[0].entry.SourceID != "" {
		oid, ok := faxfhir.SourceOID(docs[0].entry.SourceID)
		if !ok {
			badSource, oid = docs[0].entry.SourceID, ""
		}
		for i := range docs {
			docs[i].entry.SourceID = oid
		}
	}
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return nil, "", fmt.Errorf("%s: %w", dir+"/METADATA.XML", err)
		}
		// Without metadata (none, or one listing no document) every file
		// may be a document: content decides, as for any archive.
		unreadable := md != nil && !errors.Is(err, errNoDocument)
		if unreadable {
			steps = append(steps, zipStep{name: entryName(md), err: fmt.Errorf("cannot be read (%v): the subset's documents are not sent without their metadata (labels, sizes and hashes)", err)})
		}
		for _, f := range files {
			if u := strings.ToUpper(entryName(f)); u != dir+"/METADATA.XML" && !displayAid(u) {
				st := fileStep(f)
				if unreadable && st.err == nil {
					st.f, st.err = nil, errors.New("not converted: the subset's METADATA.XML cannot be read")
				}
				steps = append(steps, st)
			}
		}
		return steps, "", nil
	}
	// The subset's name as the archive spells it, for messages.
	first := entryName(files[0])
	spelled := leadingFolders(first, strings.Count(dir, "/")+1)
	taken := map[*zip.File]bool{}
	at := map[*zip.File]int{}          // a taken file's step
	claims := map[*zip.File][]string{} // the uniqueIds of the documents placed at a file
	// A document METADATA.XML gives no URI for is one of the subset's
	// files, which cannot be told: it is named, and no file the metadata
	// does not place is sent, since it may be that document, whose
	// labels (confidentialityCode) and hash would not go with it.
	unplaced := false
	for _, d := range docs {
		if d.uri == "" {
			unplaced = true
			steps = append(steps, zipStep{name: spelled + "/METADATA.XML", err: fmt.Errorf("a document%s without a URI slot: which file of the package it is cannot be told", uniqueIDNote(d.uniqueID))})
			continue
		}
		meta := map[string]string{}
		if d.uniqueID != "" {
			meta[MetaXDMUniqueID] = d.uniqueID
		}
		if d.mimeType != "" {
			meta[MetaXDMMimeType] = d.mimeType
		}
		uri := strings.ReplaceAll(d.uri, `\`, "/")
		target := path.Join(spelled, uri)
		if err := checkName(uri); err != nil {
			steps = append(steps, zipStep{name: target, err: fmt.Errorf("METADATA.XML names document %q: %v", d.uri, err)})
			continue
		}
		f := byName[strings.ToUpper(target)]
		if f == nil {
			// Some writers give the URI from the package's root.
			f = byName[root+strings.ToUpper(path.Clean(uri))]
		}
		id := d.uniqueID
		if id == "" {
			id = "none"
		}
		switch {
		case f == nil:
			steps = append(steps, zipStep{name: target, err: fmt.Errorf("METADATA.XML lists this document%s but the archive does not hold it", uniqueIDNote(d.uniqueID))})
		case taken[f]:
			// Two documents at one file: which DocumentEntry (uniqueId,
			// labels, size and hash) the file is cannot be told, so it
			// goes as neither, and both are named.
			claims[f] = append(claims[f], id)
			steps[at[f]] = zipStep{name: steps[at[f]].name, err: fmt.Errorf("METADATA.XML lists %d documents at this file (uniqueIds %s): which of them it is cannot be told, and it is not sent under either's metadata (labels, size and hash)", len(claims[f]), strings.Join(claims[f], ", "))}
		default:
			taken[f] = true
			claims[f] = []string{id}
			at[f] = len(steps)
			st := fileStep(f)
			st.meta = meta
			st.xdm = &d.entry
			steps = append(steps, st)
		}
	}
	// A file of the subset METADATA.XML does not list (a writer that
	// forgot one) is still a file the sender sent: content decides, as in
	// any archive, so it is converted or named, never skipped.
	for _, f := range files {
		if u := strings.ToUpper(entryName(f)); !taken[f] && u != dir+"/METADATA.XML" && !displayAid(u) {
			st := fileStep(f)
			if unplaced && st.err == nil {
				st.f, st.err = nil, errors.New("not converted: METADATA.XML does not place this file and lists a document without a URI, which it may be; it is not sent without that document's metadata")
			}
			steps = append(steps, st)
		}
	}
	return steps, badSource, nil
}

// leadingFolders is name's first n path elements.
func leadingFolders(name string, n int) string {
	i := 0
	for ; n > 0 && i < len(name); n-- {
		j := strings.IndexByte(name[i:], '/')
		if j < 0 {
			return name
		}
		i += j + 1
	}
	return strings.TrimSuffix(name[:i], "/")
}

func uniqueIDNote(id string) string {
	if id == "" {
		return ""
	}
	return " (uniqueId " + id + ")"
}

// xdmDocument is what ferry reads of an ExtrinsicObject (a document entry)
// of METADATA.XML: where the document is, and its metadata. Only a
// document ferry files as a DocumentReference carries the metadata on (in
// Raw.Meta, its patient facts under "phi." keys as the fax path's are);
// a C-CDA names its patient in its own recordTarget.
type xdmDocument struct {
	uri, mimeType, uniqueID string
	entry                   xdmfhir.Entry
}

// rimExtrinsicObject is an ebRIM ExtrinsicObject. The tags name no
// namespace, so they match RIM 3.0 (lcm:SubmitObjectsRequest) and the
// older RIM 2.1 (rs:SubmitObjectsRequest, LeafRegistryObjectList) alike.
type rimExtrinsicObject struct {
	ID                  string     `xml:"id,attr"`
	MimeType            string     `xml:"mimeType,attr"`
	Slots               []rimSlot  `xml:"Slot"`
	Name                rimString  `xml:"Name>LocalizedString"`
	Description         rimString  `xml:"Description>LocalizedString"`
	Classifications     []rimClass `xml:"Classification"`
	ExternalIdentifiers []struct {
		Scheme string    `xml:"identificationScheme,attr"`
		Value  string    `xml:"value,attr"`
		Name   rimString `xml:"Name>LocalizedString"`
	} `xml:"ExternalIdentifier"`
}

type rimSlot struct {
	Name   string   `xml:"name,attr"`
	Values []string `xml:"ValueList>Value"`
}

type rimString struct {
	Value string `xml:"value,attr"`
}

// rimClass is a Classification: a coded value (nodeRepresentation, the
// codingScheme slot, Name) or, for the author, slots alone.
type rimClass struct {
	Scheme string    `xml:"classificationScheme,attr"`
	Node   string    `xml:"nodeRepresentation,attr"`
	Name   rimString `xml:"Name>LocalizedString"`
	Slots  []rimSlot `xml:"Slot"`
}

// rimAssociation is an ebRIM Association: associationType from
// sourceObject to targetObject (ITI TF-3 4.2.2: a replacement is RPLC from
// the new DocumentEntry to the one it replaces).
type rimAssociation struct {
	Type   string `xml:"associationType,attr"`
	Source string `xml:"sourceObject,attr"`
	Target string `xml:"targetObject,attr"`
}

// rimExternalIdentifier is an ExternalIdentifier written on its own, which
// names the object it identifies by registryObject.
type rimExternalIdentifier struct {
	Object string    `xml:"registryObject,attr"`
	Scheme string    `xml:"identificationScheme,attr"`
	Value  string    `xml:"value,attr"`
	Name   rimString `xml:"Name>LocalizedString"`
}

func (x rimExternalIdentifier) isUniqueID() bool {
	return x.Scheme == schemeUniqueID || x.Name.Value == "XDSDocumentEntry.uniqueId"
}

// rimPackage is a RegistryPackage: the submission set (or a folder).
type rimPackage struct {
	Slots               []rimSlot `xml:"Slot"`
	ExternalIdentifiers []struct {
		Scheme string    `xml:"identificationScheme,attr"`
		Value  string    `xml:"value,attr"`
		Name   rimString `xml:"Name>LocalizedString"`
	} `xml:"ExternalIdentifier"`
}

// The DocumentEntry identification and classification schemes ferry
// reads (ITI TF-3 Table 4.2.5-1; checked against several XDS
// implementations' constants, which agree).
const (
	schemeUniqueID        = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	schemePatientID       = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	schemeClassCode       = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	schemeTypeCode        = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	schemeConfidentiality = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	schemeFormatCode      = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	schemeFacilityType    = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	schemePracticeSetting = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	schemeAuthor          = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	schemeEventCode       = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	// schemeSourceID is XDSSubmissionSet.sourceId, the sending system's
	// OID; only a submission set has one (a folder does not).
	schemeSourceID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
)

// entry reads the document entry's metadata.
func (eo *rimExtrinsicObject) entry() xdmfhir.Entry {
	e := xdmfhir.Entry{
		EntryUUID: strings.TrimSpace(eo.ID),
		MimeType:  strings.TrimSpace(eo.MimeType),
		Title:     strings.TrimSpace(eo.Name.Value),
		Comments:  strings.TrimSpace(eo.Description.Value),
	}
	for _, s := range eo.Slots {
		v := first(s.Values)
		switch s.Name {
		case "creationTime":
			e.CreationTime = v
		case "languageCode":
			e.LanguageCode = v
		case "hash":
			e.Hash = v
		case "size":
			e.Size = v
		case "sourcePatientId":
			e.SourcePatientID = v
		case "serviceStartTime":
			e.ServiceStartTime = v
		case "serviceStopTime":
			e.ServiceStopTime = v
		case "sourcePatientInfo":
			// PID-5 and PID-7 as "PID-5|DOE^JOHN", one field a value.
			for _, pv := range s.Values {
				field, val, _ := strings.Cut(strings.TrimSpace(pv), "|")
				switch field {
				case "PID-5":
					e.PatientName = val
				case "PID-7":
					e.PatientBirthDate = val
				}
			}
		}
	}
	for _, x := range eo.ExternalIdentifiers {
		switch {
		case x.Scheme == schemeUniqueID || x.Name.Value == "XDSDocumentEntry.uniqueId":
			e.UniqueID = strings.TrimSpace(x.Value)
		case x.Scheme == schemePatientID || x.Name.Value == "XDSDocumentEntry.patientId":
			e.PatientID = strings.TrimSpace(x.Value)
		}
	}
	for _, c := range eo.Classifications {
		code := func() *xdmfhir.Code {
			cd := &xdmfhir.Code{Code: strings.TrimSpace(c.Node), Display: strings.TrimSpace(c.Name.Value)}
			for _, s := range c.Slots {
				if s.Name == "codingScheme" {
					cd.Scheme = first(s.Values)
				}
			}
			return cd
		}
		switch c.Scheme {
		case schemeClassCode:
			e.ClassCode = code()
		case schemeTypeCode:
			e.TypeCode = code()
		case schemeFormatCode:
			e.FormatCode = code()
		case schemeFacilityType:
			e.FacilityType = code()
		case schemePracticeSetting:
			e.PracticeSetting = code()
		case schemeConfidentiality:
			e.Confidentiality = append(e.Confidentiality, *code())
		case schemeEventCode:
			e.EventCodes = append(e.EventCodes, *code())
		case schemeAuthor:
			var a xdmfhir.Author
			for _, s := range c.Slots {
				switch s.Name {
				case "authorInstitution":
					for _, v := range s.Values {
						if v = strings.TrimSpace(v); v != "" {
							a.Institutions = append(a.Institutions, v)
						}
					}
				case "authorPerson":
					a.Person = first(s.Values)
				}
			}
			e.Authors = append(e.Authors, a)
		}
	}
	return e
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return strings.TrimSpace(values[0])
}

// errNoDocument is a METADATA.XML that lists no document.
var errNoDocument = errors.New("no document listed")

// readXDMMetadata reads the document entries of a METADATA.XML. It fails
// when the file cannot be read or parsed, or lists no document
// (errNoDocument: then the subset is sniffed instead). A document without
// a URI (none, or split values that do not join) comes back with uri "",
// for the caller to name: the others keep their metadata.
func readXDMMetadata(f *zip.File) ([]xdmDocument, error) {
	if f.UncompressedSize64 > maxMetadataBytes {
		return nil, fmt.Errorf("it holds %d bytes, more than the %d read", f.UncompressedSize64, maxMetadataBytes)
	}
	rc, err := openEntry(f)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	// Titles, comments and names are read in the charset the file is
	// written in: UTF-16 by its byte-order mark, else the one its
	// declaration names (XML 1.0 §4.3.3).
	if b, err = configtext.UTF8(b); err != nil {
		return nil, err
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = configtext.CharsetReader
	var docs []xdmDocument
	var submitted, sourceID string
	var assocs []rimAssociation
	uniqueIDs := map[string]string{} // an object's id → its uniqueId
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "RegistryPackage":
			// The submission set's submissionTime dates the documents'
			// bundles and its sourceId names their source (a folder has
			// neither).
			var rp rimPackage
			if err := d.DecodeElement(&rp, &se); err != nil {
				return nil, err
			}
			for _, s := range rp.Slots {
				if s.Name == "submissionTime" && submitted == "" {
					submitted = first(s.Values)
				}
			}
			for _, x := range rp.ExternalIdentifiers {
				if (x.Scheme == schemeSourceID || x.Name.Value == "XDSSubmissionSet.sourceId") && sourceID == "" {
					sourceID = strings.TrimSpace(x.Value)
				}
			}
			continue
		case "Association":
			// A relation between documents (RPLC, APND, XFRM,
			// XFRM_RPLC, signs); HasMember and the rest are left.
			var a rimAssociation
			if err := d.DecodeElement(&a, &se); err != nil {
				return nil, err
			}
			if _, ok := xdmfhir.RelationCode(a.Type); ok {
				assocs = append(assocs, a)
			}
			continue
		case "ExternalIdentifier":
			// One standing alone names an object by its registryObject:
			// the uniqueId of a document the package does not hold,
			// such as the one a replacement replaces.
			var x rimExternalIdentifier
			if err := d.DecodeElement(&x, &se); err != nil {
				return nil, err
			}
			if x.isUniqueID() && strings.TrimSpace(x.Object) != "" {
				uniqueIDs[strings.TrimSpace(x.Object)] = strings.TrimSpace(x.Value)
			}
			continue
		case "ExtrinsicObject":
		default:
			continue
		}
		var eo rimExtrinsicObject
		if err := d.DecodeElement(&eo, &se); err != nil {
			return nil, err
		}
		doc := xdmDocument{entry: eo.entry()}
		doc.mimeType, doc.uniqueID = doc.entry.MimeType, doc.entry.UniqueID
		for _, s := range eo.Slots {
			if s.Name == "URI" {
				doc.uri = joinURI(s.Values)
			}
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, errNoDocument
	}
	patientOf := map[string]string{} // a document of the package → its patientId
	for _, doc := range docs {
		if doc.entry.EntryUUID != "" && doc.uniqueID != "" {
			uniqueIDs[doc.entry.EntryUUID] = doc.uniqueID
		}
		if doc.entry.EntryUUID != "" {
			patientOf[doc.entry.EntryUUID] = strings.TrimSpace(doc.entry.PatientID)
		}
	}
	// Replacements within the package, to see two documents that each
	// replace the other.
	replacing := map[[2]string]bool{}
	// Each document's associations, found by its entryUUID rather than by
	// going through every association for every document: a METADATA.XML
	// of many documents and associations cost their product.
	bySource := map[string][]rimAssociation{}
	for _, a := range assocs {
		src := strings.TrimSpace(a.Source)
		if code, _ := xdmfhir.RelationCode(a.Type); code == "replaces" {
			replacing[[2]string{src, strings.TrimSpace(a.Target)}] = true
		}
		if src != "" {
			bySource[src] = append(bySource[src], a)
		}
	}
	for i := range docs {
		docs[i].entry.SubmissionTime = submitted
		docs[i].entry.SourceID = sourceID
		for _, a := range bySource[docs[i].entry.EntryUUID] {
			src, dst := strings.TrimSpace(a.Source), strings.TrimSpace(a.Target)
			if dst == "" {
				continue
			}
			if code, _ := xdmfhir.RelationCode(a.Type); code == "replaces" && replacing[[2]string{dst, src}] {
				// Each replaces the other: which one is current cannot
				// be told, and taking both would leave none. Both stay
				// current, as if neither association were there.
				continue
			}
			if p, inPackage := patientOf[dst]; inPackage && p != strings.TrimSpace(docs[i].entry.PatientID) {
				// A relation to a document of the package filed for
				// another patient: XDS refuses it (a replacement's
				// patientId must be the replaced entry's), and its
				// supersede, by the target's identifier, would mark the
				// other patient's document superseded.
				continue
			}
			docs[i].entry.Related = append(docs[i].entry.Related, xdmfhir.Relation{
				Type: strings.TrimSpace(a.Type), TargetUUID: dst, TargetUniqueID: uniqueIDs[dst]})
		}
	}
	return docs, nil
}

// joinURI reads a URI slot. XDS splits a URI longer than a slot value may
// be into values "1|…", "2|…" (ITI TF-3 4.2.3.2.24); a single value is the
// URI itself.
func joinURI(values []string) string {
	if len(values) == 1 {
		return strings.TrimSpace(values[0])
	}
	parts := make(map[int]string, len(values))
	for _, v := range values {
		n, rest, ok := strings.Cut(strings.TrimSpace(v), "|")
		i, err := strconv.Atoi(n)
		if !ok || err != nil {
			return ""
		}
		parts[i] = rest
	}
	var b strings.Builder
	for i := 1; i <= len(values); i++ {
		p, ok := parts[i]
		if !ok {
			return ""
		}
		b.WriteString(p)
	}
	return b.String()
}

// consumeEntry hands one entry on as a Raw of its own. Its errors name the
// archive and the entry; a permanent one says why the entry was not
// accepted. held holds the lower-cased base names of the archive's files.
func (s *Source) consumeEntry(ctx context.Context, in adapters.Raw, st zipStep, held map[string]bool) error {
	name := in.Name + ": " + st.name
	f := st.f
	size := int64(f.UncompressedSize64)
	open := func() (io.ReadCloser, error) { return openEntry(f) }
	// Entries up to the engine's in-memory limit are read once and handed
	// over in Body, as the engine does with files; a larger one is hashed
	// here and streamed from the archive by the converter.
	var body []byte
	h := sha256.New()
	// An XDM document's SHA-1 is checked against METADATA.XML's hash
	// slot, whatever its format.
	var sums io.Writer = h
	h1 := sha1.New()
	if st.xdm != nil {
		sums = io.MultiWriter(h, h1)
	}
	if size <= s.maxBody {
		body = make([]byte, 0, size)
		buf := bytes.NewBuffer(body)
		if err := copyEntry(io.MultiWriter(sums, buf), f); err != nil {
			return entryErr(name, err)
		}
		body = buf.Bytes()
	} else if err := copyEntry(sums, f); err != nil {
		return entryErr(name, err)
	}
	var got Sniffed
	var err error
	csvMatch := s.csvMatch(st.name)
	if csvMatch != "" {
		got = Sniffed{Format: FormatCSV}
	} else {
		got, err = sniffEntry(body, open, st.name)
	}
	switch {
	case err != nil && isUnknown(err) && st.xdm != nil:
		// A document METADATA.XML describes that ferry cannot turn into
		// clinical resources is filed as a DocumentReference with its
		// Binary, from that metadata. Its hash and size go to the
		// exchange as the attachment's, so they must be the document's.
		if size == 0 {
			return queue.Permanent(fmt.Errorf("%s: not converted%s: the document is empty", name, mimeNote(st.meta)))
		}
		if err := st.xdm.Verify(size, h1.Sum(nil)); err != nil {
			return queue.Permanent(fmt.Errorf("%s: not converted: %w", name, err))
		}
		got = Sniffed{Format: FormatXDMDocument}
	case err != nil && isUnknown(err):
		return queue.Permanent(fmt.Errorf("%s: not converted%s: %w", name, mimeNote(st.meta), err))
	case err != nil:
		return entryErr(name, err)
	case got.Format == FormatZIP:
		return queue.Permanent(fmt.Errorf("%s: not converted: an archive inside the archive is not opened; unpack it into the folder", name))
	case got.Format == FormatBulkManifest:
		// As in a folder (Source.consume): a Bulk Data export's manifest
		// zipped with its files is no resource, and is not sent; but a
		// file it lists that the archive lacks is named.
		if err := manifestMissing(body, held); err != nil {
			return queue.Permanent(fmt.Errorf("%s: %w", name, err))
		}
		s.log.Info("ehrdrop: a FHIR Bulk Data export's manifest in an archive is no resource and is not sent",
			"sha256", shortHash(in.Meta[folder.MetaSHA256]))
		return nil
	case st.xdm != nil && got.Format != FormatXDMDocument:
		// A document ferry converts is held to METADATA.XML's size and
		// hash too: one that differs was damaged or altered after the
		// package was made, and is not what the sender submitted.
		if err := st.xdm.Verify(size, h1.Sum(nil)); err != nil {
			return queue.Permanent(fmt.Errorf("%s: not converted: %w", name, err))
		}
	}
	raw := adapters.Raw{
		Source:   in.Source,
		Format:   got.Format,
		Name:     name,
		Body:     body,
		Received: in.Received,
		Meta:     entryMeta(in.Meta, st, size, h, got),
		Size:     size,
		Open:     open,
	}
	if got.Format == FormatXDMDocument {
		maps.Copy(raw.Meta, st.xdm.Meta())
	} else if st.xdm != nil {
		// A C-CDA that METADATA.XML says replaces (appends to,
		// transforms) another document relates to it as if its own
		// header said so.
		if len(st.xdm.Related) > 0 {
			if b, err := json.Marshal(st.xdm.Related); err == nil {
				raw.Meta[xdmfhir.MetaRelated] = string(b)
			}
		}
		// And the labels METADATA.XML gives it are its labels too.
		if l := xdmfhir.LabelsMeta(st.xdm.Confidentiality); l != "" {
			raw.Meta[xdmfhir.MetaLabels] = l
		}
	}
	if csvMatch != "" {
		raw.Meta[MetaCSVMatch] = csvMatch
	}
	if got.Format == FormatFHIRNDJSON {
		// The export's error file, as in a folder.
		notices, err := errorReport(raw, got.Type)
		if err != nil {
			return err
		}
		if notices > 0 {
			s.log.Info("ehrdrop: a FHIR Bulk Data export's error file in an archive holds information only, nothing that failed; it is no resource and is not sent",
				"sha256", shortHash(in.Meta[folder.MetaSHA256]), "operation_outcomes", notices)
			return nil
		}
	}
	return s.next.Consume(ctx, raw)
}

// manifestMissing returns an error naming each file a FHIR Bulk Data
// export's manifest (body) lists, as output or as its error file, whose
// name is not among held (an archive's files, lower-cased base names):
// an archive of the export without one of them is incomplete, and its
// resources, or the server's report of what it could not export, would
// be lost without a word. The IG names no file (a client saves each
// under a name of its own), so the names are compared only when the
// archive holds at least one file under the name its url ends in; nil
// when none, or when body cannot be read as a manifest.
func manifestMissing(body []byte, held map[string]bool) error {
	type item struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	var m struct {
		Output []item `json:"output"`
		Error  []item `json:"error"`
	}
	if json.Unmarshal(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF")), &m) != nil {
		return nil
	}
	kept := false
	var missing []string
	for i, it := range append(m.Output, m.Error...) {
		p := it.URL
		if u, err := url.Parse(it.URL); err == nil {
			p = u.Path
		}
		base := path.Base(p)
		if p == "" || base == "/" || base == "." {
			continue
		}
		if held[strings.ToLower(base)] {
			kept = true
			continue
		}
		if i < len(m.Output) {
			missing = append(missing, fmt.Sprintf("%s (%s)", base, it.Type))
		} else {
			missing = append(missing, base+" (its error file)")
		}
	}
	if !kept || len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the FHIR Bulk Data export's manifest lists %s, which the archive does not hold: the export is incomplete; zip it again with every file the manifest lists", strings.Join(missing, ", "))
}

// sniffEntry classifies an entry from body, or through open when body is
// nil (an entry above the in-memory limit).
func sniffEntry(body []byte, open func() (io.ReadCloser, error), name string) (Sniffed, error) {
	if body != nil {
		return Sniff(bytes.NewReader(body), name)
	}
	rc, err := open()
	if err != nil {
		return Sniffed{}, err
	}
	defer rc.Close()
	return Sniff(rc, name)
}

func mimeNote(meta map[string]string) string {
	if m := meta[MetaXDMMimeType]; m != "" {
		return " (" + m + ")"
	}
	return ""
}

// entryErr names the entry in a read error; a corrupt entry is a
// permanent failure.
func entryErr(name string, err error) error {
	err = fmt.Errorf("%s: %w", name, err)
	if isDataErr(err) {
		return queue.Permanent(err)
	}
	return err
}

// entryMeta is the archive's Meta with the entry's facts in place of the
// file's. The engine's path and sidecars are dropped: they are the
// archive's, and a consumer that opened the path would read the ZIP, not
// the document.
func entryMeta(archive map[string]string, st zipStep, size int64, h hash.Hash, got Sniffed) map[string]string {
	m := make(map[string]string, len(archive)+len(st.meta)+4)
	for k, v := range archive {
		m[k] = v
	}
	delete(m, folder.MetaPath)
	delete(m, folder.MetaSidecars)
	for k, v := range st.meta {
		m[k] = v
	}
	if sum := archive[folder.MetaSHA256]; sum != "" {
		m[MetaArchiveSHA256] = sum
	}
	m[MetaEntry] = st.name
	m[folder.MetaSize] = strconv.FormatInt(size, 10)
	m[folder.MetaSHA256] = hex.EncodeToString(h.Sum(nil))
	m[MetaFormat] = got.Format
	if got.Charset != "" {
		m[MetaCharset] = got.Charset
	}
	return m
}

// openEntry opens an entry for reading, held to its declared size.
func openEntry(f *zip.File) (io.ReadCloser, error) {
	rc, err := f.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return nil, fmt.Errorf("compression method %d is not read (only stored and deflated entries): %w", f.Method, err)
		}
		return nil, err
	}
	size := int64(f.UncompressedSize64)
	return &sizedReader{rc: rc, r: io.LimitReader(rc, size+1), size: size, left: size}, nil
}

// sizedReader fails as soon as an entry yields more than its header
// declares: every limit above trusts the declared sizes, so an entry that
// lies about its size is refused as it is read, not after. archive/zip
// checks this too (zip.ErrFormat), which the limit here does not depend
// on; both say so in plain words.
type sizedReader struct {
	rc         io.ReadCloser
	r          io.Reader
	size, left int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case s.left < 0, errors.Is(err, zip.ErrFormat):
		return 0, refuse("the entry inflates to more than the %d bytes its header declares: refused as a ZIP bomb", s.size)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, refuse("the entry ends before the %d bytes its header declares: the archive is damaged", s.size)
	case errors.Is(err, zip.ErrChecksum):
		return n, refuse("the entry's checksum does not match: the archive is damaged")
	}
	return n, err
}

func (s *sizedReader) Close() error { return s.rc.Close() }

// copyEntry writes the entry's bytes to w.
func copyEntry(w io.Writer, f *zip.File) error {
	rc, err := openEntry(f)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}
