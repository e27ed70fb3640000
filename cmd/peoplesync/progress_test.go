package main

import (
	"bytes"
	"strings"
	"testing"

	fssync "github.com/peoplesync/peoplesync/sync"
)

// The terminal progress line shows every host's phase, files and bytes on
// one redrawn line, and ends with a newline.
func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressLine(&buf)
	p.update(fssync.Progress{Host: "earth", Phase: fssync.PhaseSend, FilesDone: 1, FilesTotal: 5, BytesDone: 2048, BytesTotal: 10240})
	p.update(fssync.Progress{Host: "venus", Phase: fssync.PhaseDone, FilesDone: 5, FilesTotal: 5, BytesDone: 3 << 20, BytesTotal: 3 << 20})
	p.finish()
	out := buf.String()
	last := out[strings.LastIndex(out, "\r")+1:]
	for _, want := range []string{"earth send 1/5 files 2.0 KiB/10.0 KiB", "venus done 5/5 files 3.0 MiB/3.0 MiB", " | "} {
		if !strings.Contains(last, want) {
			t.Errorf("progress line %q lacks %q", last, want)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("progress does not end its line: %q", out)
	}
}
