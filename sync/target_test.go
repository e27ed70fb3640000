package sync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
	"github.com/peoplesync/peoplesync/internal/testpeer"
)

// targetUnderTest is a fresh, empty Target whose root does not exist yet,
// and the root's path on this machine.
type targetUnderTest struct {
	t      Target
	dir    string
	noExec bool // Run must fail with ErrNoExec
}

// TestTargetConformance runs the Target contract against every
// implementation.
func TestTargetConformance(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		testTarget(t, func(t *testing.T) targetUnderTest {
			dir := filepath.Join(t.TempDir(), "people")
			tg, err := NewLocalTarget(dir)
			must(t, err)
			return targetUnderTest{t: tg, dir: dir}
		})
	})
	for _, s := range []server{inProcess, realSSHD} {
		t.Run("sftp-"+s.name, func(t *testing.T) {
			testTarget(t, func(t *testing.T) targetUnderTest {
				p := s.start(t)
				return targetUnderTest{t: dialPeer(t, p), dir: p.dir}
			})
		})
	}
	t.Run("sftp-inprocess-sftponly", func(t *testing.T) {
		testTarget(t, func(t *testing.T) targetUnderTest {
			p := newInProcessPeer(t, func(c *sftpserver.Config) { c.SFTPOnly = true })
			return targetUnderTest{t: dialPeer(t, p), dir: p.dir, noExec: true}
		})
	})
	t.Run("sftp-sshd-chroot", func(t *testing.T) {
		testTarget(t, func(t *testing.T) targetUnderTest {
			p := newChrootPeer(t)
			return targetUnderTest{t: dialPeer(t, p), dir: p.dir, noExec: true}
		})
	})
}

func dialPeer(t *testing.T, p *peer) Target {
	t.Helper()
	tg, err := Dial(context.Background(), p.host, p.opts(), testLogger(t))
	must(t, err)
	t.Cleanup(func() { tg.Close() })
	return tg
}

// newChrootPeer starts a real sshd with an SFTP-only port chrooted to a
// directory under the test's working directory (the package directory):
// sshd wants every component of a chroot path root-owned and not group- or
// world-writable, which rules out the system temp dir.
func newChrootPeer(t *testing.T) *peer {
	t.Helper()
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "sshd chroot", "sshd's ChrootDirectory needs the tests to run as root")
	}
	wd, err := os.Getwd()
	must(t, err)
	// The package directory when it fits (a checkout under /tmp does not),
	// else a root-owned system directory.
	var base string
	var why []string
	for _, dir := range []string{wd, "/run", "/var/lib"} {
		if err := testpeer.CheckChroot(dir); err != nil {
			why = append(why, err.Error())
			continue
		}
		base = dir
		break
	}
	if base == "" {
		testpeer.Missing(t, "sshd chroot", "no directory fit for ChrootDirectory: "+strings.Join(why, "; "))
	}
	chroot, err := os.MkdirTemp(base, ".sshd-chroot-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(chroot) })
	must(t, os.Chmod(chroot, 0o755))
	s := testpeer.StartSSHDForTest(t, testpeer.SSHDConfig{SFTPOnlyChroot: chroot})
	return &peer{
		host:     Host{Name: "chroot", Address: s.SFTPOnlyAddr, User: s.User, Path: "/people"},
		ssh:      SSHOptions{KnownHosts: s.KnownHosts, IdentityFile: s.IdentityFile, ConnectTimeout: 5 * time.Second, IOTimeout: 10 * time.Second},
		dir:      filepath.Join(chroot, "people"),
		hostKeys: []ssh.PublicKey{s.HostKey},
		sshd:     s,
	}
}

// testTarget is the conformance suite: every Target must pass it.
func testTarget(t *testing.T, newTarget func(t *testing.T) targetUnderTest) {
	ctx := context.Background()
	mtime := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	install := func(t *testing.T, tg Target, rel, content string, mode fs.FileMode) {
		t.Helper()
		err := tg.Install(ctx, rel, strings.NewReader(content), FileMeta{Size: int64(len(content)), Mode: mode, ModTime: mtime})
		must(t, err)
	}
	setup := func(t *testing.T) targetUnderTest {
		tut := newTarget(t)
		must(t, tut.t.Mkdir(ctx, ".", 0o755))
		return tut
	}

	t.Run("ListMissingRoot", func(t *testing.T) {
		tut := newTarget(t)
		_, err := tut.t.List(ctx)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("List of a missing root: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("MkdirAndList", func(t *testing.T) {
		tut := setup(t)
		entries, err := tut.t.List(ctx)
		must(t, err)
		if len(entries) != 0 {
			t.Fatalf("empty root lists %v", entries)
		}
		must(t, tut.t.Mkdir(ctx, "a/b", 0o750))
		must(t, tut.t.Mkdir(ctx, "a/b", 0o750)) // exists: no error
		install(t, tut.t, "a/b/f", "hello", 0o640)
		install(t, tut.t, "top", "", 0o600)
		must(t, os.Symlink("top", filepath.Join(tut.dir, "link")))
		entries, err = tut.t.List(ctx)
		must(t, err)
		got := map[string]Entry{}
		for _, e := range entries {
			got[e.Path] = e
		}
		if len(got) != 5 {
			t.Fatalf("List = %v, want a, a/b, a/b/f, top, link", entries)
		}
		if e := got["a/b"]; !e.IsDir() || e.Mode.Perm() != 0o750 {
			t.Errorf("a/b = %v %v, want a directory 0750", e.Mode, e.IsDir())
		}
		if e := got["a/b/f"]; !e.IsRegular() || e.Size != 5 || e.Mode.Perm() != 0o640 || !e.ModTime.Equal(mtime) {
			t.Errorf("a/b/f = %+v, want 5 bytes 0640 %v", e, mtime)
		}
		if e := got["link"]; e.Mode&fs.ModeSymlink == 0 {
			t.Errorf("link = %v, want a symbolic link, not followed", e.Mode)
		}
	})

	t.Run("InstallCreatesAndReplaces", func(t *testing.T) {
		tut := setup(t)
		install(t, tut.t, "f", "first version", 0o644)
		install(t, tut.t, "f", "second", 0o600)
		b, err := os.ReadFile(filepath.Join(tut.dir, "f"))
		must(t, err)
		fi, err := os.Stat(filepath.Join(tut.dir, "f"))
		must(t, err)
		if string(b) != "second" || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) {
			t.Errorf("f = %q %v %v, want %q 0600 %v", b, fi.Mode().Perm(), fi.ModTime(), "second", mtime)
		}
		if tmp := tempFiles(t, tut.dir); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})

	t.Run("InstallReplacesSymlink", func(t *testing.T) {
		tut := setup(t)
		install(t, tut.t, "real", "real", 0o644)
		must(t, os.Symlink("real", filepath.Join(tut.dir, "f")))
		install(t, tut.t, "f", "file now", 0o644)
		fi, err := os.Lstat(filepath.Join(tut.dir, "f"))
		must(t, err)
		b, _ := os.ReadFile(filepath.Join(tut.dir, "real"))
		if !fi.Mode().IsRegular() || string(b) != "real" {
			t.Errorf("f is %v and real has %q: the link must be replaced, its target untouched", fi.Mode(), b)
		}
	})

	t.Run("InstallLarge", func(t *testing.T) {
		tut := setup(t)
		data := randomTree(1, 3<<20+123, 7)["f000.bin"]
		install(t, tut.t, "big", data, 0o644)
		b, err := os.ReadFile(filepath.Join(tut.dir, "big"))
		must(t, err)
		if string(b) != data {
			t.Fatalf("big: %d bytes differ from the %d sent", len(b), len(data))
		}
	})

	t.Run("InstallShortReaderKeepsOld", func(t *testing.T) {
		tut := setup(t)
		install(t, tut.t, "f", "old", 0o644)
		err := tut.t.Install(ctx, "f", strings.NewReader("new"), FileMeta{Size: 10, Mode: 0o644, ModTime: mtime})
		if !errors.Is(err, ErrSourceChanged) {
			t.Fatalf("Install with 3 of 10 bytes: %v, want ErrSourceChanged", err)
		}
		err = tut.t.Install(ctx, "f", iotest.ErrReader(errors.New("disk error")), FileMeta{Size: 10, Mode: 0o644, ModTime: mtime})
		if err == nil {
			t.Fatal("Install from a failing reader succeeded")
		}
		b, _ := os.ReadFile(filepath.Join(tut.dir, "f"))
		if string(b) != "old" {
			t.Errorf("f = %q after failed installs, want the old content", b)
		}
		if tmp := tempFiles(t, tut.dir); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})

	t.Run("InstallConcurrent", func(t *testing.T) {
		tut := setup(t)
		files := randomTree(40, 70_000, 3)
		var wg gosync.WaitGroup
		errs := make(chan error, len(files))
		for name, data := range files {
			wg.Go(func() {
				errs <- tut.t.Install(ctx, name, strings.NewReader(data), FileMeta{Size: int64(len(data)), Mode: 0o644, ModTime: mtime})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		got := readTree(t, tut.dir)
		for name, data := range files {
			if got[name] != data {
				t.Errorf("%s differs", name)
			}
		}
	})

	t.Run("Open", func(t *testing.T) {
		tut := setup(t)
		data := randomTree(1, 200_000, 9)["f000.bin"]
		install(t, tut.t, "f", data, 0o644)
		rc, err := tut.t.Open(ctx, "f")
		must(t, err)
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		must(t, err)
		must(t, rc.Close())
		if buf.String() != data {
			t.Error("Open read different bytes")
		}
		if _, err := tut.t.Open(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("Remove", func(t *testing.T) {
		tut := setup(t)
		must(t, tut.t.Mkdir(ctx, "d", 0o755))
		install(t, tut.t, "d/f", "x", 0o644)
		if err := tut.t.Remove(ctx, "d"); err == nil {
			t.Error("Remove of a non-empty directory succeeded")
		}
		must(t, tut.t.Remove(ctx, "d/f"))
		must(t, tut.t.Remove(ctx, "d"))
		if _, err := os.Lstat(filepath.Join(tut.dir, "d")); !os.IsNotExist(err) {
			t.Errorf("d still there: %v", err)
		}
	})

	t.Run("Run", func(t *testing.T) {
		tut := setup(t)
		res, err := tut.t.Run(ctx, `printf '%s|' "$FILES" "$(pwd -P)"; echo oops >&2; exit 3`, map[string]string{"FILES": "a b:c'd"})
		if tut.noExec {
			if !errors.Is(err, ErrNoExec) {
				t.Fatalf("Run on an SFTP-only target: %v, want ErrNoExec", err)
			}
			return
		}
		must(t, err)
		dir, _ := filepath.EvalSymlinks(tut.dir)
		want := "a b:c'd|" + dir + "|oops\n"
		if res.ExitStatus != 3 || string(res.Output) != want {
			t.Errorf("Run = status %d output %q, want 3 %q", res.ExitStatus, res.Output, want)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		tut := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := tut.t.Install(cctx, "f", strings.NewReader("x"), FileMeta{Size: 1, Mode: 0o644, ModTime: mtime})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Install with a cancelled context: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(tut.dir, "f")); !os.IsNotExist(err) {
			t.Errorf("f created despite the cancelled context")
		}
	})
}
