package sync

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
)

// peopleTree is a small People directory.
func peopleTree() tree {
	return tree{
		"aliases":        "postmaster: root\nalice: alice@venus\n",
		"passwd":         "alice:*:501:20:Alice:/Users/alice:/bin/sh\n",
		"images/a.tiff":  strings.Repeat("A", 50_000),
		"images/b.tiff":  strings.Repeat("B", 70_000),
		"deep/er/x.txt":  "x",
		"empty":          "",
		"images/c1.tiff": strings.Repeat("C", 33_000),
	}
}

func TestSyncAndNoChange(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src := t.TempDir()
		writeTree(t, src, peopleTree())

		rep := mustSync(t, src, p.opts(), p.host)
		checkSynced(t, src, p.dir)
		h := rep.Hosts[0]
		if h.Created != 7 || h.Updated != 0 || h.Deleted != 0 || h.DirsCreated != 4 {
			t.Errorf("first run: %+v, want 7 created and 4 directories (images, deep, deep/er; root)", h)
		}

		// Nothing changed: nothing sent.
		rep = mustSync(t, src, p.opts(), p.host)
		if h := rep.Hosts[0]; h.FilesSent() != 0 || h.DirsCreated != 0 || len(h.Changes) != 0 {
			t.Errorf("second run changed things: %+v", h)
		}

		// Changes: content (same size, new mtime), mode, mtime only, a new file.
		write := func(rel, content string, mt time.Time) {
			pth := filepath.Join(src, rel)
			must(t, os.WriteFile(pth, []byte(content), 0o644))
			must(t, os.Chtimes(pth, mt, mt))
		}
		later := baseTime.Add(time.Hour)
		write("aliases", "postmaster: admin\nalice: alice@mars\n", later)
		must(t, os.Chmod(filepath.Join(src, "passwd"), 0o600))
		must(t, os.Chtimes(filepath.Join(src, "empty"), later, later))
		write("images/new.tiff", "new", later)
		var items safeBuffer
		opts := p.opts()
		opts.Itemize = &items
		rep = mustSync(t, src, opts, p.host)
		checkSynced(t, src, p.dir)
		want := []string{
			p.host.Name + ": >f+++++++++ images/new.tiff",
			p.host.Name + ": >f..t...... aliases",
			p.host.Name + ": >f..t...... empty",
			p.host.Name + ": >f...p..... passwd",
		}
		if got := lines(items.String()); !slices.Equal(got, want) {
			t.Errorf("itemized changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if h := rep.Hosts[0]; h.Created != 1 || h.Updated != 3 {
			t.Errorf("third run: %d created, %d updated; want 1, 3", h.Created, h.Updated)
		}
	})
}

func TestCompareContent(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "same size A\n", "other": "o"})
	mustSync(t, src, p.opts(), p.host)

	// Same size and mtime, different bytes: only content mode sees it.
	pth := filepath.Join(src, "aliases")
	fi, err := os.Stat(pth)
	must(t, err)
	must(t, os.WriteFile(pth, []byte("same size B\n"), 0o644))
	must(t, os.Chtimes(pth, fi.ModTime(), fi.ModTime()))

	rep := mustSync(t, src, p.opts(), p.host)
	if n := rep.Hosts[0].FilesSent(); n != 0 {
		t.Errorf("mtime compare sent %d files, want 0 (size and mtime are equal)", n)
	}
	opts := p.opts()
	opts.Compare = CompareContent
	var items safeBuffer
	opts.Itemize = &items
	mustSync(t, src, opts, p.host)
	if got, want := lines(items.String()), []string{"inproc: >fc........ aliases"}; !slices.Equal(got, want) {
		t.Errorf("content compare itemized %q, want %q", got, want)
	}
	checkSynced(t, src, p.dir)
	// And again: equal now.
	if rep = mustSync(t, src, opts, p.host); rep.Hosts[0].FilesSent() != 0 {
		t.Errorf("content compare resent equal files")
	}
}

func TestSymlinksSkippedAndExcluded(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	outside := t.TempDir()
	writeTree(t, outside, tree{"secret": "do not send", "dir/x": "no"})
	writeTree(t, src, tree{"aliases": "a", "keep.bak": "b", "tmp/x": "t", "sub/y.bak": "c"})
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "link")))
	must(t, os.Symlink(filepath.Join(outside, "dir"), filepath.Join(src, "dirlink")))
	must(t, os.WriteFile(filepath.Join(src, TempPrefix+"x"), []byte("t"), 0o644))

	opts := p.opts()
	opts.Exclude = []string{"*.bak", "tmp"}
	rep := mustSync(t, src, opts, p.host)
	got := readTree(t, p.dir)
	if len(got) != 1 || got["aliases"] != "a" {
		t.Errorf("server has %v, want only aliases", keys(got))
	}
	if !slices.Equal(rep.Skipped, []string{"dirlink", "link"}) {
		t.Errorf("Skipped = %v, want the two links", rep.Skipped)
	}

	// Excluded files on the server are never deleted.
	writeTree(t, p.dir, tree{"old.bak": "keep me", "tmp/z": "keep me too", "extra": "delete me"})
	opts.Delete = true
	mustSync(t, src, opts, p.host)
	got = readTree(t, p.dir)
	if _, ok := got["extra"]; ok || got["old.bak"] == "" || got["tmp/z"] == "" {
		t.Errorf("after delete the server has %v, want aliases, old.bak, tmp/z", keys(got))
	}
}

func keys(t tree) []string {
	var out []string
	for k := range t {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDelete(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a", "d/f": "f"})
		mustSync(t, src, p.opts(), p.host)
		writeTree(t, p.dir, tree{"x1": "1", "x2": "2", "gone/a": "a", "gone/b/c": "c", "d/extra": "e"})

		// Without delete, extraneous files stay.
		mustSync(t, src, p.opts(), p.host)
		if n := len(readTree(t, p.dir)); n != 7 {
			t.Fatalf("delete off: %d files on the server, want 7", n)
		}

		// More than max_delete: none deleted, the host fails, installs done.
		writeTree(t, src, tree{"aliases": "a2", "d/f": "f"})
		opts := p.opts()
		opts.Delete, opts.MaxDelete = true, 3
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if !errors.Is(err, ErrTooManyDeletes) || !errors.Is(rep.Hosts[0].Err, ErrTooManyDeletes) {
			t.Fatalf("7 deletions with max_delete 3: %v, want ErrTooManyDeletes", err)
		}
		if got := readTree(t, p.dir); len(got) != 7 || got["aliases"] != "a2" {
			t.Errorf("after refused deletions the server has %v (aliases %q), want all 7 files and the new aliases", keys(got), got["aliases"])
		}

		opts.MaxDelete = 7
		var items safeBuffer
		opts.Itemize = &items
		rep = mustSync(t, src, opts, p.host)
		checkSynced(t, src, p.dir)
		want := []string{
			p.host.Name + ": *deleting   d/extra",
			p.host.Name + ": *deleting   gone/a",
			p.host.Name + ": *deleting   gone/b/c",
			p.host.Name + ": *deleting   x1",
			p.host.Name + ": *deleting   x2",
			p.host.Name + ": *deleting   gone/b/",
			p.host.Name + ": *deleting   gone/",
		}
		if got := lines(items.String()); !slices.Equal(got, want) {
			t.Errorf("deletions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if _, err := os.Stat(filepath.Join(p.dir, "gone")); !os.IsNotExist(err) {
			t.Errorf("directory gone still there")
		}
		if rep.Hosts[0].Deleted != 7 {
			t.Errorf("Deleted = %d, want 7", rep.Hosts[0].Deleted)
		}
	})
}

func TestDeleteSafetySource(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	mustSync(t, src, p.opts(), p.host)
	before := readTree(t, p.dir)
	opts := p.opts()
	opts.Delete, opts.MaxDelete = true, -1

	// An empty source (an unmounted NFS export): nothing touched.
	empty := t.TempDir()
	must(t, os.Mkdir(filepath.Join(empty, "subdir-only"), 0o755))
	rep, err := runSync(t, context.Background(), empty, opts, p.host)
	if !errors.Is(err, ErrSourceEmpty) || !errors.Is(rep.Hosts[0].Err, ErrSourceEmpty) || !IsPermanent(err) {
		t.Errorf("empty source with delete: %v, want ErrSourceEmpty for every host", err)
	}
	// A missing source: nothing touched either, even without delete.
	missing := filepath.Join(t.TempDir(), "not-mounted")
	if _, err := runSync(t, context.Background(), missing, opts, p.host); !errors.Is(err, ErrSourceMissing) {
		t.Errorf("missing source: %v, want ErrSourceMissing", err)
	}
	opts.Delete = false
	if _, err := runSync(t, context.Background(), missing, opts, p.host); !errors.Is(err, ErrSourceMissing) {
		t.Errorf("missing source without delete: %v, want ErrSourceMissing", err)
	}
	if got := readTree(t, p.dir); !maps(got, before) {
		t.Errorf("server changed: %v, want %v", keys(got), keys(before))
	}
	// An empty source without delete is fine: nothing to do.
	mustSync(t, empty, opts, p.host)
}

func maps(a, b tree) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestDryRunChangesNothing(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a", "passwd": "p"})
		mustSync(t, src, p.opts(), p.host)
		writeTree(t, src, tree{"aliases": "a2", "passwd": "p", "new/f": "n"})
		writeTree(t, p.dir, tree{"extra": "e", TempPrefix + "stale": "s"})
		before := readTree(t, p.dir)
		beforeInfo, err := os.Stat(filepath.Join(p.dir, "aliases"))
		must(t, err)

		opts := p.opts()
		opts.DryRun, opts.Delete = true, true
		opts.Specials = []Special{{Match: "aliases", Command: "touch " + filepath.Join(t.TempDir(), "ran")}}
		var items safeBuffer
		opts.Itemize = &items
		rep := mustSync(t, src, opts, p.host)

		if got := readTree(t, p.dir); !maps(got, before) {
			t.Errorf("dry run changed the server: %v, want %v", keys(got), keys(before))
		}
		if fi, _ := os.Stat(filepath.Join(p.dir, "aliases")); !fi.ModTime().Equal(beforeInfo.ModTime()) {
			t.Error("dry run changed an mtime")
		}
		n := p.host.Name
		want := []string{
			n + ": cd+++++++++ new/",
			n + ": >f+++++++++ new/f",
			n + ": >f.s....... aliases", // writeTree gave it the same mtime
			n + ": >f..t...... passwd",  // and this one a new mtime
			n + ": *deleting   extra",
			n + ": !special    " + opts.Specials[0].Command + " FILES=aliases",
		}
		if got := lines(items.String()); !slices.Equal(got, want) {
			t.Errorf("dry run itemized:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		h := rep.Hosts[0]
		if h.Created != 1 || h.Updated != 2 || h.Deleted != 1 || len(h.Specials) != 1 || !h.Specials[0].DryRun || h.TempRemoved != 1 {
			t.Errorf("dry run report %+v", h)
		}
	})
}

func TestDryRunMissingRoot(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	opts := p.opts()
	opts.DryRun = true
	var items safeBuffer
	opts.Itemize = &items
	mustSync(t, src, opts, p.host)
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("dry run created the target directory")
	}
	if got, want := lines(items.String()), []string{"inproc: cd+++++++++ ./", "inproc: >f+++++++++ aliases"}; !slices.Equal(got, want) {
		t.Errorf("itemized %q, want %q", got, want)
	}
}

func TestSpecials(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src := t.TempDir()
		logFile := filepath.Join(t.TempDir(), "specials.log")
		writeTree(t, src, tree{"aliases": "a", "maps/aliases": "m", "passwd": "p"})
		opts := p.opts()
		opts.Delete = true
		opts.Specials = []Special{
			{Match: "aliases", Command: `echo "newaliases FILES=$FILES PWD=$(pwd -P)" >> ` + logFile},
			{Match: "passwd", Command: `echo "passwd FILES=$FILES" >> ` + logFile},
		}
		readLog := func() []string {
			b, err := os.ReadFile(logFile)
			if os.IsNotExist(err) {
				return nil
			}
			must(t, err)
			return lines(string(b))
		}
		rep := mustSync(t, src, opts, p.host)
		dir, _ := filepath.EvalSymlinks(p.dir)
		want := []string{"newaliases FILES=aliases:maps/aliases PWD=" + dir, "passwd FILES=passwd"}
		if got := readLog(); !slices.Equal(got, want) {
			t.Fatalf("specials ran %q, want %q", got, want)
		}
		if h := rep.Hosts[0]; len(h.Specials) != 2 || h.Specials[0].ExitStatus != 0 || h.Specials[0].Err != nil {
			t.Errorf("specials report %+v", h.Specials)
		}

		// Nothing changed: nothing runs.
		mustSync(t, src, opts, p.host)
		if got := readLog(); len(got) != 2 {
			t.Fatalf("specials ran without changes: %q", got)
		}

		// Only passwd changes; then maps/aliases is deleted.
		writeTree(t, src, tree{"aliases": "a", "maps/aliases": "m", "passwd": "p2"})
		mustSync(t, src, opts, p.host)
		must(t, os.RemoveAll(filepath.Join(src, "maps")))
		mustSync(t, src, opts, p.host)
		// The deleted directory maps matches no pattern; maps/aliases does.
		want = append(want, "passwd FILES=passwd", "newaliases FILES=maps/aliases PWD="+dir)
		got := readLog()
		if !slices.Equal(got, want) {
			t.Errorf("specials ran %q, want %q", got, want)
		}

		// A failing special fails the host, with its status and output.
		opts.Specials = []Special{{Match: "aliases", Command: "echo broken >&2; exit 3"}}
		writeTree(t, src, tree{"aliases": "a3", "passwd": "p2"})
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if !errors.Is(err, ErrSpecialFailed) {
			t.Fatalf("failing special: %v, want ErrSpecialFailed", err)
		}
		if s := rep.Hosts[0].Specials; len(s) != 1 || s[0].ExitStatus != 3 || !strings.Contains(s[0].Output, "broken") {
			t.Errorf("failing special report %+v", s)
		}
		checkSynced(t, src, p.dir) // the files were installed all the same
	})
}

func TestSFTPOnlyWithSpecials(t *testing.T) {
	for _, s := range []server{
		{"inprocess", func(t *testing.T) *peer {
			return newInProcessPeer(t, func(c *sftpserver.Config) { c.SFTPOnly = true })
		}},
		{"sshd-chroot", newChrootPeer},
	} {
		t.Run(s.name, func(t *testing.T) {
			p := s.start(t)
			src := t.TempDir()
			writeTree(t, src, tree{"aliases": "a"})
			// Without specials an SFTP-only server is fine.
			mustSync(t, src, p.opts(), p.host)
			writeTree(t, src, tree{"aliases": "a2"})
			opts := p.opts()
			opts.Attempts = 3
			opts.Specials = []Special{{Match: "aliases", Command: "newaliases"}}
			rep, err := runSync(t, context.Background(), src, opts, p.host)
			if !errors.Is(err, ErrNoExec) || !strings.Contains(err.Error(), "special") {
				t.Fatalf("specials on an SFTP-only server: %v, want ErrNoExec naming the specials", err)
			}
			if rep.Hosts[0].Attempts != 1 {
				t.Errorf("retried a permanent error: %d attempts", rep.Hosts[0].Attempts)
			}
			if got := readTree(t, p.dir)["aliases"]; got != "a" {
				t.Errorf("aliases = %q: nothing may change when the specials cannot run", got)
			}
		})
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a", "d/f": "f"})
	mustSync(t, src, p.opts(), p.host)
	writeTree(t, p.dir, tree{TempPrefix + "aliases.1234": "partial", "d/" + TempPrefix + "f.99": "p"})
	rep := mustSync(t, src, p.opts(), p.host) // delete is off: temp files go anyway
	if rep.Hosts[0].TempRemoved != 2 {
		t.Errorf("TempRemoved = %d, want 2", rep.Hosts[0].TempRemoved)
	}
	checkSynced(t, src, p.dir)
}

func TestParallelHostsIndependent(t *testing.T) {
	a, b := newInProcessPeer(t, nil), newInProcessPeer(t, nil)
	down := newInProcessPeer(t, nil)
	down.srv.Close() // refuses connections
	src := t.TempDir()
	writeTree(t, src, peopleTree())
	// Every host shares one known_hosts file and key in real life.
	b.appendKnownHostsFrom(t, a)
	down.appendKnownHostsFrom(t, a)
	hosts := []Host{a.host, down.host, b.host}
	hosts[0].Name, hosts[1].Name, hosts[2].Name = "venus", "down", "mars"
	hosts[2].IdentityFile = b.ssh.IdentityFile
	opts := a.opts()
	opts.Parallel = 2
	var events []Progress
	opts.Progress = func(p Progress) { events = append(events, p) }
	rep, err := runSync(t, context.Background(), src, opts, hosts...)
	if err == nil || !strings.Contains(err.Error(), "host down") || strings.Contains(err.Error(), "venus") {
		t.Fatalf("error %v: want only host down's", err)
	}
	if len(rep.Hosts) != 3 || rep.Hosts[0].Err != nil || rep.Hosts[1].Err == nil || rep.Hosts[2].Err != nil {
		t.Fatalf("reports %+v", rep.Hosts)
	}
	checkSynced(t, src, a.dir)
	checkSynced(t, src, b.dir)
	done := map[string]bool{}
	for _, e := range events {
		if e.Phase == PhaseDone {
			done[e.Host] = true
		}
	}
	if len(done) != 3 {
		t.Errorf("PhaseDone reported for %v, want all 3 hosts", done)
	}
}

// appendKnownHostsFrom makes q's known_hosts also know p's server, and
// q's options use p's known_hosts (one file for all hosts).
func (p *peer) appendKnownHostsFrom(t *testing.T, other *peer) {
	t.Helper()
	other.appendKnownHosts(t, p.host.Address, p.hostKeys...)
}

func TestBandwidthLimit(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, randomTree(4, 40_000, 5))
	opts := p.opts()
	opts.BWLimit = 4 << 20
	mustSync(t, src, opts, p.host)
	checkSynced(t, src, p.dir)
}

func TestProgress(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	files := randomTree(10, 300_000, 11)
	writeTree(t, src, files)
	opts := p.opts()
	var events []Progress
	opts.Progress = func(e Progress) { events = append(events, e) }
	mustSync(t, src, opts, p.host)
	var last Progress
	for _, e := range events {
		if e.Phase != PhaseSend {
			continue
		}
		if e.FilesDone < last.FilesDone || e.BytesDone < last.BytesDone || e.FilesTotal != 10 || e.BytesTotal != 3_000_000 {
			t.Fatalf("progress went %+v -> %+v", last, e)
		}
		last = e
	}
	if last.FilesDone != 10 || last.BytesDone != 3_000_000 {
		t.Errorf("last send progress %+v, want all 10 files and 3000000 bytes", last)
	}
	if e := events[len(events)-1]; e.Phase != PhaseDone || e.Err != nil || e.FilesDone != 10 {
		t.Errorf("last event %+v, want done", e)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{Compare: "checksum"},
		{Exclude: []string{"[unclosed"}},
		{Specials: []Special{{Match: "", Command: "x"}}},
		{Specials: []Special{{Match: "aliases"}}},
		{Parallel: -1},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", o)
		}
	}
	if _, err := Run(context.Background(), t.TempDir(), nil, Options{Compare: "x"}, nil); err == nil {
		t.Error("Run with invalid options succeeded")
	}
}

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"aliases", "aliases", true},
		{"aliases", "maps/aliases", true},
		{"aliases", "aliases.db", false},
		{"*.bak", "a/b/c.bak", true},
		{"maps/*", "maps/x", true},
		{"maps/*", "other/maps/x", false},
		{"maps/*", "maps/x/y", false},
	} {
		if got := matchGlob(tc.pattern, tc.path); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v", tc.pattern, tc.path, got)
		}
	}
	if !excluded([]string{"tmp"}, "tmp/a/b") || excluded([]string{"tmp"}, "tmpx/a") {
		t.Error("excluded directories must exclude their subtree, and only theirs")
	}
}

func TestAgentAuthAndLinkedRoot(t *testing.T) {
	p := newInProcessPeer(t, nil)
	pemBytes, err := os.ReadFile(p.ssh.IdentityFile)
	must(t, err)
	key, err := ssh.ParseRawPrivateKey(pemBytes)
	must(t, err)
	keyring := agent.NewKeyring()
	must(t, keyring.Add(agent.AddedKey{PrivateKey: key}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	var wg gosync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			})
		}
	})

	// The target path is a link to the real directory.
	real := filepath.Join(p.srv.Root(), "real-people")
	must(t, os.Mkdir(real, 0o755))
	must(t, os.Symlink("real-people", p.dir))
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	opts := p.opts()
	opts.SSH.IdentityFile = ""
	opts.SSH.AgentSocket = sock
	mustSync(t, src, opts, p.host)
	checkSynced(t, src, real)
}
