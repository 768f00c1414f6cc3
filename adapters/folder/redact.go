package folder

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// hiddenName stands for a file name in logs when there is no content hash
// to name the file by (the file could not be read).
const hiddenName = "(name hidden)"

// hashLabel is what replaces a file's name in logs: the prefix of its
// content hash that logName also uses, so the lines of one file can still
// be told apart and matched with its .error.txt.
func hashLabel(sum []byte) string {
	if len(sum) == 0 {
		return hiddenName
	}
	return "sha256=" + hex.EncodeToString(sum)[:12]
}

// logErr is the error attribute of a log line about the files in names
// (an input, its sidecars, its marker). Errors from the file system, the
// consumer and the pipeline name the file, often in a full path, and an
// export's or fax's file name may be the patient's name and MRN; unless
// PHI logging is on, every name and stem in names is replaced by the hash
// label (see redactNames).
func (e *Engine) logErr(err error, sum []byte, names ...string) slog.Attr {
	if err == nil {
		return slog.String("err", "")
	}
	if e.set.LogPHI {
		return slog.Any("err", err)
	}
	return slog.String("err", redactNames(err.Error(), hashLabel(sum), names...))
}

// redactNames returns s with every occurrence of each file name in names,
// and of each name's stem (the name without its extension), replaced by
// label. Stems matter because renamed copies (x~2.tif), sidecars (x.json)
// and markers (x.done) share them. The longest strings go first, so a name
// is replaced whole rather than around its stem, and a match must not run
// into a neighbouring letter or digit, so that a short stem ("1") does not
// mangle the words around it. Names as %q would quote them are replaced
// too.
func redactNames(s, label string, names ...string) string {
	var needles []string
	add := func(n string) {
		if n == "" || n == "." || n == ".." {
			return
		}
		needles = append(needles, n)
		if q := strconv.Quote(n); q[1:len(q)-1] != n {
			needles = append(needles, q[1:len(q)-1])
		}
	}
	for _, n := range names {
		add(n)
		add(stemOf(n))
	}
	sort.SliceStable(needles, func(i, j int) bool { return len(needles[i]) > len(needles[j]) })
	for _, n := range needles {
		s = replaceWord(s, n, label)
	}
	return s
}

// replaceWord replaces the occurrences of old in s that are not glued to a
// letter or digit on a side where old itself begins or ends with one.
func replaceWord(s, old, label string) string {
	if !strings.Contains(s, old) {
		return s
	}
	first, _ := utf8.DecodeRuneInString(old)
	last, _ := utf8.DecodeLastRuneInString(old)
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(old):])
		glued := (i > 0 && isWord(first) && isWord(before)) ||
			(i+len(old) < len(s) && isWord(last) && isWord(after))
		b.WriteString(s[:i])
		if glued {
			b.WriteString(old)
		} else {
			b.WriteString(label)
		}
		s = s[i+len(old):]
	}
}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// ErrorClass names the operating system's reason in err ("permission
// denied", "read-only file system") without the paths the error carries:
// it says what is wrong with a folder without naming the files in it.
func ErrorClass(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "file does not exist"
	case errors.Is(err, fs.ErrExist):
		return "file already exists"
	}
	return "unclassified error"
}

// RedactNames replaces file names in s as the engine's log lines do (see
// redactNames), for the commands that print what ferry keeps about a
// file, such as `ferry quarantine list`, with the same care.
func RedactNames(s, label string, names ...string) string {
	return redactNames(s, label, names...)
}
