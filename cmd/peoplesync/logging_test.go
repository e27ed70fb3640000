package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestJournalFieldNames(t *testing.T) {
	for in, want := range map[string]string{
		"job": "JOB", "run_id": "RUN_ID", "server": "SERVER", "file": "FILE",
		"bytes-sent": "BYTES_SENT", "2fa": "X2FA", "_x": "X_X",
	} {
		if got := journalName(in); got != want {
			t.Errorf("journalName(%q) = %q, want %q", in, got, want)
		}
	}
}

// auto logs to the journal only when stderr is the stream JOURNAL_STREAM
// names.
func TestStderrIsJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !stderrIsJournal(f) {
		t.Error("matching JOURNAL_STREAM not recognised")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	if stderrIsJournal(f) {
		t.Error("another stream taken for the journal")
	}
	if stderrIsJournal(&bytes.Buffer{}) {
		t.Error("a buffer taken for the journal")
	}
}

func TestLogFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello", "job", "sync")
	if !strings.Contains(buf.String(), `"job":"sync"`) {
		t.Errorf("json log: %s", buf.String())
	}
	buf.Reset()
	log, _ = newLogger(&buf, "auto", "warn")
	log.Info("quiet")
	log.Warn("loud", "server", "venus")
	if strings.Contains(buf.String(), "quiet") || !strings.Contains(buf.String(), "level=WARN msg=loud server=venus") {
		t.Errorf("text log: %s", buf.String())
	}
	if _, err := newLogger(&buf, "xml", "info"); err == nil {
		t.Error("bad format accepted")
	}
	if _, err := newLogger(&buf, "text", "loud"); err == nil {
		t.Error("bad level accepted")
	}
}
