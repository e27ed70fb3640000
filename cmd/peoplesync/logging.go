package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	slogjournal "github.com/systemd/slog-journal"
)

// newLogger builds the logger for --log-format and --log-level. "auto"
// writes to the journal natively when stderr is connected to it
// (JOURNAL_STREAM), and text otherwise.
func newLogger(stderr io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if stderrIsJournal(stderr) {
			h, err := slogjournal.NewHandler(&slogjournal.Options{Level: lv, ReplaceAttr: journalKey, ReplaceGroup: journalName})
			if err == nil {
				return slog.New(h), nil
			}
		}
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use auto, text or json", format)
}

// stderrIsJournal reports whether stderr is the journal's stream, as
// systemd says in JOURNAL_STREAM=DEVICE:INODE.
func stderrIsJournal(stderr io.Writer) bool {
	js := os.Getenv("JOURNAL_STREAM")
	f, ok := stderr.(*os.File)
	if js == "" || !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// journalKey makes attribute keys journal fields: JOB=sync, SERVER=venus.
func journalKey(_ []string, a slog.Attr) slog.Attr {
	a.Key = journalName(a.Key)
	return a
}

func journalName(k string) string {
	b := []byte(strings.ToUpper(k))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '_' || b[0] >= '0' && b[0] <= '9' {
		b = append([]byte("X"), b...)
	}
	return string(b)
}
