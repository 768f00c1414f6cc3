package main

import (
	"io"
	"log/slog"
	"runtime"
	"strings"
)

// pathsPlain undoes, on Windows, the doubled backslashes that quoting a
// path with %q leaves in an error ("open \"C:\\\\ProgramData\\\\ferry\""
// for C:\ProgramData\ferry): errors quote their paths so that a space or
// an odd character in a name stays visible, but an administrator should
// read the path as Explorer shows it. It is applied where errors reach
// people (the command's error line, the log's attributes), not where they
// are made. Elsewhere a backslash in a message is rare and its escape is
// kept. Only the backslashes inside a quoted string are undone: a path
// written as it is keeps its own, a UNC path (\\fileserver\scans) its two.
func pathsPlain(s string) string { return pathsPlainOn(runtime.GOOS, s) }

func pathsPlainOn(goos, s string) string {
	if goos != "windows" || !strings.Contains(s, `\\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !quoted:
			quoted = c == '"'
		case c == '\\' && i+1 < len(s):
			// An escape: a doubled backslash is one; another (\") is
			// kept as it is, and does not end the string.
			if s[i+1] != '\\' {
				b.WriteByte(c)
			}
			i++
			c = s[i]
		case c == '"':
			quoted = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// plainPathAttrs is the log handlers' ReplaceAttr: string and error
// values (and the message) with pathsPlain applied. Elsewhere than on
// Windows it is nil, and the handler does nothing extra.
func plainPathAttrs() func([]string, slog.Attr) slog.Attr {
	if runtime.GOOS != "windows" {
		return nil
	}
	return func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			if s := a.Value.String(); strings.Contains(s, `\\`) {
				a.Value = slog.StringValue(pathsPlain(s))
			}
		case slog.KindAny:
			if err, ok := a.Value.Any().(error); ok && strings.Contains(err.Error(), `\\`) {
				a.Value = slog.StringValue(pathsPlain(err.Error()))
			}
		}
		return a
	}
}

// pathsPlainWriter is w with pathsPlain applied to what is written: for a
// command's report to people (doctor's checks), whose lines quote the
// errors of many packages.
func pathsPlainWriter(w io.Writer) io.Writer {
	if runtime.GOOS != "windows" {
		return w
	}
	return plainWriter{w}
}

type plainWriter struct{ w io.Writer }

func (p plainWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, pathsPlain(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
