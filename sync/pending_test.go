package sync

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// owedSetup is an in-process server, a source with aliases and passwd, a
// special that logs its runs, and a PendingDir.
func owedSetup(t *testing.T) (p *peer, src string, opts Options, runs func() []string) {
	t.Helper()
	p = newInProcessPeer(t, nil)
	src = t.TempDir()
	writeTree(t, src, tree{"aliases": "a: b\n", "passwd": "root:*:0:1\n"})
	logFile := filepath.Join(t.TempDir(), "specials.log")
	opts = p.opts()
	opts.PendingDir = filepath.Join(t.TempDir(), "pending")
	opts.SSH.IOTimeout = 500 * time.Millisecond
	opts.Specials = []Special{{Match: "aliases", Command: `echo "newaliases FILES=$FILES" >> ` + logFile}}
	runs = func() []string {
		b, err := os.ReadFile(logFile)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		must(t, err)
		return lines(string(b))
	}
	return p, src, opts, runs
}

// owedRecord returns the paths recorded as owed to p's host, nil when
// there is no record.
func owedRecord(t *testing.T, opts Options, p *peer) []string {
	t.Helper()
	paths, err := loadOwed(opts.PendingDir, p.host.label())
	must(t, err)
	return paths
}

// TestOwedSpecialRunsNextTime: a special that could not complete (it hung
// past the io timeout) is owed; the next run, with nothing to send, runs it
// and clears the record; the run after that runs nothing.
func TestOwedSpecialRunsNextTime(t *testing.T) {
	p, src, opts, runs := owedSetup(t)
	hang := opts
	hang.Specials = []Special{{Match: "aliases", Command: "sleep 60"}}
	_, err := runSync(t, context.Background(), src, hang, p.host)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "specials NOT run although their files changed (the next run runs them)") {
		t.Fatalf("hung special: %v", err)
	}
	if got := owedRecord(t, opts, p); !slices.Equal(got, []string{"aliases"}) {
		t.Fatalf("owed after the hung special: %q, want [aliases]", got)
	}

	rep := mustSync(t, src, opts, p.host)
	if h := rep.Hosts[0]; h.FilesSent() != 0 || len(h.Specials) != 1 {
		t.Errorf("second run sent %d files and ran %d specials, want 0 and 1", h.FilesSent(), len(h.Specials))
	}
	if got := runs(); !slices.Equal(got, []string{"newaliases FILES=aliases"}) {
		t.Errorf("specials ran %q", got)
	}
	if got := owedRecord(t, opts, p); got != nil {
		t.Errorf("still owed after the special ran: %q", got)
	}
	mustSync(t, src, opts, p.host)
	if got := runs(); len(got) != 1 {
		t.Errorf("a third run with nothing owed ran specials: %q", got)
	}
}

// TestOwedRecordedBeforeInstall: the run stops (its context is cancelled,
// as when the daemon is killed) right after aliases is installed, before
// its special: the next run runs it.
func TestOwedRecordedBeforeInstall(t *testing.T) {
	p, src, opts, runs := owedSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := opts
	stop.Concurrency = 1
	stop.Progress = func(e Progress) {
		if e.Phase == PhaseSend && e.FilesDone == 2 {
			cancel()
		}
	}
	if _, err := runSync(t, ctx, src, stop, p.host); err == nil {
		t.Fatal("the stopped run succeeded")
	}
	if _, err := os.Stat(filepath.Join(p.dir, "aliases")); err != nil {
		t.Fatalf("aliases not installed before the stop: %v", err)
	}
	if got := runs(); got != nil {
		t.Fatalf("the special ran in the stopped run: %q", got)
	}
	if got := owedRecord(t, opts, p); !slices.Equal(got, []string{"aliases"}) {
		t.Fatalf("owed after the stop: %q, want [aliases]", got)
	}
	mustSync(t, src, opts, p.host)
	if got := runs(); !slices.Equal(got, []string{"newaliases FILES=aliases"}) {
		t.Errorf("specials ran %q, want newaliases once", got)
	}
}

// TestOwedFailedSpecialRetried: a special that fails stays owed and runs
// again (and fails again, reported again) until it succeeds.
func TestOwedFailedSpecialRetried(t *testing.T) {
	p, src, opts, runs := owedSetup(t)
	broken := opts
	broken.Specials = []Special{{Match: "aliases", Command: opts.Specials[0].Command + "; exit 3"}}
	for i := 1; i <= 2; i++ {
		if _, err := runSync(t, context.Background(), src, broken, p.host); !errors.Is(err, ErrSpecialFailed) {
			t.Fatalf("run %d: %v, want ErrSpecialFailed", i, err)
		}
		if got := runs(); len(got) != i {
			t.Fatalf("run %d: the failed special ran %d times in all, want %d", i, len(got), i)
		}
		if got := owedRecord(t, opts, p); !slices.Equal(got, []string{"aliases"}) {
			t.Fatalf("run %d: owed %q, want [aliases]", i, got)
		}
	}
	mustSync(t, src, opts, p.host)
	if got := runs(); len(got) != 3 {
		t.Errorf("the fixed special ran %d times in all, want 3", len(got))
	}
	if got := owedRecord(t, opts, p); got != nil {
		t.Errorf("still owed after the special succeeded: %q", got)
	}
}

// TestOwedDryRunAndBadRecord: a dry run reports the owed special and
// leaves the record alone; an unreadable record fails the host, naming the
// file and the fix, and is left for the admin (a dry run only warns).
func TestOwedDryRunAndBadRecord(t *testing.T) {
	p, src, opts, runs := owedSetup(t)
	mustSync(t, src, opts, p.host)
	must(t, saveOwed(opts.PendingDir, p.host.label(), []string{"aliases"}))

	dry := opts
	dry.DryRun = true
	rep := mustSync(t, src, dry, p.host)
	if s := rep.Hosts[0].Specials; len(s) != 1 || !s[0].DryRun || !slices.Equal(s[0].Files, []string{"aliases"}) {
		t.Errorf("dry run specials %+v, want newaliases for aliases, planned", s)
	}
	if got := owedRecord(t, opts, p); !slices.Equal(got, []string{"aliases"}) {
		t.Errorf("the dry run changed the record: %q", got)
	}
	if got := runs(); len(got) != 1 {
		t.Errorf("the dry run ran a special: %q", got)
	}

	file := owedFile(opts.PendingDir, p.host.label())
	must(t, os.WriteFile(file, []byte("{not json"), 0o644))
	if _, err := runSync(t, context.Background(), src, dry, p.host); err != nil {
		t.Errorf("a dry run failed on an unreadable record: %v", err)
	}
	_, err := runSync(t, context.Background(), src, opts, p.host)
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "remove the file") {
		t.Fatalf("bad record: %v, want a permanent error naming %s", err, file)
	}
	if b, _ := os.ReadFile(file); string(b) != "{not json" {
		t.Errorf("the bad record was rewritten: %q", b)
	}
}

// TestOwedToAGoneServer: a record for a server no longer configured is
// reported (nothing would run it) and left alone.
func TestOwedToAGoneServer(t *testing.T) {
	p, src, opts, _ := owedSetup(t)
	must(t, saveOwed(opts.PendingDir, "mars", []string{"aliases"}))
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	if _, err := Run(context.Background(), src, []Host{p.host}, opts, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), `msg="specials are owed to a server that is no longer configured`) ||
		!strings.Contains(logged.String(), "server=mars files=[aliases]") {
		t.Errorf("no warning for the record of mars:\n%s", logged.String())
	}
	if strings.Contains(logged.String(), "server="+p.host.label()+" files=") {
		t.Errorf("the configured server was reported as gone:\n%s", logged.String())
	}
	if got, err := loadOwed(opts.PendingDir, "mars"); err != nil || !slices.Equal(got, []string{"aliases"}) {
		t.Errorf("the record of mars: %q, %v; want it left alone", got, err)
	}
}
