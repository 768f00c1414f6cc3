package fax

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// Format is the Raw.Format of everything a fax Source hands on.
const Format = "fax"

// MetaSidecarError is set (without PHI: the error names only the kind of
// sidecar and where its syntax fails) when a sidecar could not be read; the fax is still
// passed on with what else is known.
const MetaSidecarError = "fax.sidecar_error"

// Source is a fax inbox. It implements adapters.Source.
type Source struct {
	cfg      Config
	next     adapters.Consumer
	log      *slog.Logger
	logPHI   bool
	loc      *time.Location
	patterns []*regexp.Regexp
	xferLog  string
	eng      *folder.Engine
	// incomplete counts the faxes marked incomplete (the call ended
	// early) that were handed on and taken, for Incomplete.
	incomplete atomic.Int64
}

var _ adapters.Source = (*Source)(nil)

// New builds a fax inbox that hands each received fax to next. opts are
// passed to the folder engine (shared scheduler, gateway-wide dedup).
func New(set adapters.Settings, cfg Config, next adapters.Consumer, opts ...folder.Option) (*Source, error) {
	if next == nil {
		return nil, fmt.Errorf("fax inbox %q: nil consumer", cfg.Name)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fax inbox %q: invalid config: %w", cfg.Name, err)
	}
	s := &Source{cfg: cfg, next: next, log: set.Logger, logPHI: set.LogPHI, loc: time.Local}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.TimeZone != "" {
		s.loc, _ = time.LoadLocation(cfg.TimeZone)
	}
	s.patterns, _ = compilePatterns(cfg.Patterns)
	s.xferLog = cfg.XferFaxLog
	if s.xferLog == "" && cfg.Kind == KindHylaFAX {
		s.xferLog = filepath.Join(cfg.Path, "..", "etc", "xferfaxlog")
	}
	if set.ID == "" {
		set.ID = cfg.Kind + "/" + cfg.Name
	}
	if len(s.patterns) > 0 {
		// The name names the patient: the same image under another
		// name is another input (the pipeline still drops the same
		// image filed for the same patient again).
		opts = append(slices.Clip(opts), folder.WithNamesAsMetadata())
	}
	eng, err := folder.New(set, cfg.Config, adapters.ConsumerFunc(s.consume), opts...)
	if err != nil {
		return nil, fmt.Errorf("fax inbox %q: %w", cfg.Name, err)
	}
	s.eng = eng
	return s, nil
}

// Start starts watching the inbox.
func (s *Source) Start(ctx context.Context, host adapters.Host) error { return s.eng.Start(ctx, host) }

// Shutdown stops watching and waits for the fax in hand.
func (s *Source) Shutdown(ctx context.Context) error { return s.eng.Shutdown(ctx) }

// Incomplete is how many faxes marked incomplete (the call ended early,
// pages may be missing) the inbox handed on since it started, each
// counted once it was taken (stored), not on every attempt.
func (s *Source) Incomplete() int64 { return s.incomplete.Load() }

// Engine returns the folder engine underneath (paths, rescans).
func (s *Source) Engine() *folder.Engine { return s.eng }

// Feed hands one fax to the inbox as if its engine had claimed it: in
// carries the engine's metadata (folder.Meta*) and sidecars. ferry
// backfill feeds an old fax folder through it, so the inbox's patterns,
// sidecars and time zone apply as they do live.
func (s *Source) Feed(ctx context.Context, in adapters.Raw) error { return s.consume(ctx, in) }

// consume gathers the fax's metadata and passes it on. Metadata problems
// never hold a fax back: the image is what matters, and an unreadable image
// is the converter's call (a permanent error, so the file goes to failed/).
func (s *Source) consume(ctx context.Context, in adapters.Raw) error {
	if !isEmail(in) {
		partial, err := s.pass(ctx, in, nil, true)
		if err == nil && partial {
			s.incomplete.Add(1)
		}
		return err
	}
	return s.consumeEmail(ctx, in)
}

// consumeEmail hands on each fax of an e-mailed fax in.
func (s *Source) consumeEmail(ctx context.Context, in adapters.Raw) error {
	ins, e, err := emailInputs(in)
	if err != nil {
		return err
	}
	_, partial, err := s.passEmail(ctx, ins, e)
	if err == nil || queue.IsPermanent(err) {
		// Done with: its faxes stored are counted now, not at each
		// reading (one refused for now has the e-mail read again
		// whole, those stored before it duplicates then).
		s.incomplete.Add(int64(partial))
	}
	return err
}

// passEmail hands on the faxes emailInputs found in an e-mail, each a
// fax of its own: one refused for good (a damaged PDF) does not keep
// the others from the exchange, and the permanent errors are returned
// together once all were tried. An error that is not permanent (the
// queue full) ends it at once: the e-mail is read again, whole. sent
// counts the faxes stored, partial those of them marked incomplete, for
// the caller to count once it is done with the e-mail.
func (s *Source) passEmail(ctx context.Context, ins []adapters.Raw, e *emailFax) (sent, partial int, err error) {
	if e.maxParts {
		s.log.Warn("fax e-mail has more MIME parts than are read; the rest are ignored", "inbox", s.cfg.Name, "max_parts", maxEmailParts)
	}
	var perm []error
	for i, one := range ins {
		// A sidecar beside the message describes it whole: its page
		// count is of all its faxes together.
		p, err := s.pass(ctx, one, func(f *faxfhir.Fax) { e.applyDoc(f, i, s.loc) }, len(ins) == 1)
		if err != nil {
			if !queue.IsPermanent(err) {
				return sent, partial, err
			}
			perm = append(perm, err)
			continue
		}
		sent++
		if p {
			partial++
		}
	}
	switch len(perm) {
	case 0:
		return sent, partial, nil
	case 1:
		return sent, partial, perm[0]
	}
	return sent, partial, queue.Permanent(errors.Join(perm...))
}

// pass describes one fax and hands it on; more, when set, adds what the
// fax's e-mail says after its sidecars (see describe). partial says the
// fax is marked incomplete, for the caller to count once the fax (or
// the e-mail it came in) is taken. alone says the sidecars describe this
// image alone (see describe).
func (s *Source) pass(ctx context.Context, in adapters.Raw, more func(*faxfhir.Fax), alone bool) (partial bool, err error) {
	fax, scErr := s.describe(in, more, alone)
	if adapters.IsReadError(scErr) {
		// The file could not be read (the share dropped): handed on
		// without its TIFF tags, the fax would lose its sender, time
		// and subaddress; it is read again whole.
		return false, scErr
	}
	out := in
	out.Format = Format
	out.Meta = maps.Clone(in.Meta)
	if out.Meta == nil {
		out.Meta = map[string]string{}
	}
	maps.Copy(out.Meta, fax.Meta())
	if fax.Partial {
		// Delivered all the same: the pages that came are the clinic's,
		// and the DocumentReference says that some may be missing. The
		// reason is the fax system's (a modem's or service's words).
		s.log.Warn("fax received incomplete: the call ended early, pages may be missing; delivered as received",
			"inbox", s.cfg.Name, s.logFile(in), "pages", fax.Pages, "reason", fax.PartialReason)
	}
	if scErr != nil {
		out.Meta[MetaSidecarError] = scErr.Error()
		if s.logPHI {
			s.log.Warn("fax sidecar unreadable", "inbox", s.cfg.Name, s.logFile(in), "err", sidecarDetail(scErr))
		} else {
			s.log.Warn("fax sidecar unreadable", "inbox", s.cfg.Name, s.logFile(in), "err", scErr)
		}
	}
	if err := s.next.Consume(ctx, out); err != nil {
		return false, err
	}
	return fax.Partial, nil
}

// logFile names the fax of in in a log line as the folder engine's lines
// do: by its file name with log.phi, else by a prefix of its content hash
// (a fax's file name may be its patient's name). A mailbox's fax is named
// by its message, which says nothing of the patient.
func (s *Source) logFile(in adapters.Raw) slog.Attr {
	name := in.Meta[folder.MetaFile]
	switch sum := in.Meta[folder.MetaSHA256]; {
	case name == "" && in.Meta[MetaMailbox] != "":
		return slog.String("message", in.Name)
	case s.logPHI:
		return slog.String("file", cmp.Or(name, in.Name))
	case len(sum) >= 12:
		return slog.String("sha256", sum[:12])
	}
	return slog.String("file", "(name hidden)")
}

// sidecarDetail is err with the parsers' own messages, which may quote
// the sidecar's text: for log lines when PHI logging is on.
func sidecarDetail(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range j.Unwrap() {
			parts = append(parts, sidecarDetail(e))
		}
		return strings.Join(parts, "\n")
	}
	var se *sidecarError
	if errors.As(err, &se) {
		return se.msg + " (" + se.err.Error() + ")"
	}
	return err.Error()
}

// Describe works out what is known about the fax in in (a Raw from the
// folder engine): sidecars first, then the file name patterns, the TIFF tags
// and HylaFAX's xferfaxlog, then the line it came in on (Config.Lines)
// for a document kind none of those gave; the file's modification time is
// the receive time of last resort. A sidecar that cannot be parsed is reported in err
// and otherwise ignored; a file that could not be read (an
// *adapters.ReadError: the share it is on dropped) ends it, err that
// error, for the file to be read again.
func (s *Source) Describe(in adapters.Raw) (fax faxfhir.Fax, err error) {
	return s.describe(in, nil, true)
}

// describe is Describe; more, when set, fills in what it knows right
// after the sidecars: an e-mailed fax's headers and text come after the
// sidecar saved beside it and before the file name and the image. alone
// says the sidecars describe this image alone, so that a page count they
// give is its own: not so for one of several faxes of an e-mail.
func (s *Source) describe(in adapters.Raw, more func(*faxfhir.Fax), alone bool) (fax faxfhir.Fax, err error) {
	for _, name := range slices.Sorted(maps.Keys(in.Sidecars)) {
		if e := parseSidecar(&fax, in.Sidecars[name], s.loc); e != nil {
			err = errors.Join(err, e)
		}
	}
	// The pages a sidecar counts are those of its file; an e-mail's
	// count (its subject's) may be of several attachments together.
	announced := 0
	if alone {
		announced = fax.Pages
	}
	if more != nil {
		more(&fax)
	}
	file := in.Meta[folder.MetaFile]
	if file == "" {
		file = in.Name
	}
	fromName(&fax, s.patterns, file)
	tf, pages, rerr := s.readImage(in)
	if rerr != nil {
		return fax, rerr
	}
	if tf != nil {
		fromTIFF(&fax, tf, s.loc)
		pages = len(tf.Pages)
	}
	if pages >= 0 && announced > pages {
		// The fax system counted pages the image does not hold:
		// the receive (or the export) ended before the last of
		// them, and the fax is what came.
		fax.Partial, fax.Pages = true, pages
		setIf(&fax.PartialReason, fmt.Sprintf("the sidecar counts %d pages, the file holds %d", announced, pages))
	}
	if s.xferLog != "" {
		near := fax.Received
		if near.IsZero() {
			near, _ = time.Parse(time.RFC3339Nano, in.Meta[folder.MetaModTime])
		}
		rec, err := findXferRecord(s.xferLog, file, s.loc, near)
		switch {
		case err == nil && rec != nil:
			fromXfer(&fax, rec)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			s.log.Warn("fax xferfaxlog unreadable", "inbox", s.cfg.Name, "err", err)
		}
	}
	// The first line that matches and gives a kind gives the fax its
	// kind; every line that matches labels it (a program's subaddress
	// on the main number's line): a label is never dropped.
	for _, l := range s.cfg.Lines {
		if l.matches(fax.CalledNumber, fax.SubAddress) {
			setIf(&fax.DocType, l.DocType)
			for _, c := range l.Security {
				if !slices.Contains(fax.Security, c) {
					fax.Security = append(fax.Security, c)
				}
			}
		}
	}
	if fax.DOB != "" {
		// The Patient match creates takes its birth date from here; a
		// date read wrong would be another patient's.
		d, problem := birthDate(fax.DOB, time.Now())
		if problem != "" {
			s.log.Warn("fax patient birth date not read: "+problem+"; the fax goes without it", "inbox", s.cfg.Name, s.logFile(in))
		}
		fax.DOB = d
	}
	if fax.Received.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, in.Meta[folder.MetaModTime]); err == nil {
			fax.Received = t
		} else {
			fax.Received = in.Received
		}
	}
	return fax, err
}

// readImage parses the TIFF structure, or counts the pages of a PDF
// (-1 when its page tree cannot be found, and for a TIFF, whose pages
// are tf's); tf is nil for PDFs and files it cannot parse (the converter
// reports those). err is a failure to read the file (an
// *adapters.ReadError), not of its content.
func (s *Source) readImage(in adapters.Raw) (tf *tiffpdf.File, pdfPages int, err error) {
	pdfPages = -1
	defer func() {
		if !adapters.IsReadError(err) {
			err = nil
		}
	}()
	var r io.ReaderAt
	size := int64(len(in.Body))
	if in.Body != nil {
		r = bytes.NewReader(in.Body)
	} else if in.Open != nil {
		rc, err := in.Open()
		if err != nil {
			return nil, -1, err
		}
		defer rc.Close()
		f, ok := rc.(interface {
			io.ReaderAt
			Stat() (os.FileInfo, error)
		})
		if !ok {
			return nil, -1, nil
		}
		st, err := f.Stat()
		if err != nil {
			return nil, -1, err
		}
		r, size = f, st.Size()
	} else {
		return nil, -1, nil
	}
	var head [5]byte
	n, err := r.ReadAt(head[:], 0)
	switch {
	case tiffpdf.IsTIFF(head[:n]):
		tf, err = tiffpdf.Read(r, size, in.Name)
		return tf, -1, err
	case string(head[:n]) == "%PDF-":
		if pdfPages, err = faxfhir.PDFPages(r, size); err != nil {
			return nil, -1, err
		}
		return nil, pdfPages, nil
	}
	return nil, -1, err
}
