package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/jobs"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	t                         *testing.T
	dir, people, pw, al, pics string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, people: filepath.Join(dir, "People"), pw: filepath.Join(dir, "passwd.dump"), al: filepath.Join(dir, "aliases.dump"), pics: filepath.Join(dir, "pics")}
	f.write(f.pw, "root:$1$secret:0:1::0:0:Operator:/:/bin/csh\njnewberg:$1$hash:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh\n")
	f.write(f.al, "jnewberg: jnewberg@earth\nJulia_Newberg: jnewberg\nstaff: jnewberg@earth,root,\n\tbob@earthling\n")
	return f
}

func (f *fixture) write(path, content string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.people, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) job() *jobs.MailDB {
	return &jobs.MailDB{
		Source:          source.Files{PasswdPath: f.pw, AliasesPath: f.al},
		Dir:             f.people,
		Strip:           aliasfmt.Options{MailServers: []string{"earth"}},
		RedactPasswords: true,
		MaxShrink:       0.5,
	}
}

func (f *fixture) run(j *jobs.MailDB) (*jobs.MailDBSummary, error) {
	return j.Run(context.Background(), quiet)
}

func TestMailDBInstalls(t *testing.T) {
	f := newFixture(t)
	sum, err := f.run(f.job())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.read("passwd"), "root:*:0:1::0:0:Operator:/:/bin/csh\njnewberg:*:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh\n"; got != want {
		t.Errorf("passwd:\n%s\nwant:\n%s", got, want)
	}
	if got, want := f.read("aliases"), "Julia_Newberg: jnewberg\nstaff: jnewberg,root,bob@earthling\n"; got != want {
		t.Errorf("aliases:\n%s\nwant:\n%s", got, want)
	}
	if sum.Stripped != 1 || sum.Rewritten != 1 || sum.Aliases.Entries != 2 || sum.Passwd.Entries != 2 || !sum.Aliases.Changed || sum.Aliases.Installed != -1 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.StrippedNames) != 1 || sum.StrippedNames[0] != "jnewberg: jnewberg@earth" {
		t.Errorf("stripped names %q", sum.StrippedNames)
	}
}

func TestMailDBKeepsPasswordsWhenAsked(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.RedactPasswords = false
	if _, err := f.run(j); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.read("passwd"), "$1$secret") {
		t.Error("redact_passwords = false still redacted")
	}
}

func TestMailDBUnchangedIsNotRewritten(t *testing.T) {
	f := newFixture(t)
	if _, err := f.run(f.job()); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, n := range []string{"passwd", "aliases"} {
		os.Chtimes(filepath.Join(f.people, n), old, old)
	}
	sum, err := f.run(f.job())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Passwd.Changed || sum.Aliases.Changed {
		t.Errorf("unchanged dump reported as changed: %+v", sum)
	}
	for _, n := range []string{"passwd", "aliases"} {
		fi, _ := os.Stat(filepath.Join(f.people, n))
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s was rewritten: mtime %v, want %v", n, fi.ModTime(), old)
		}
	}
	assertNoTemp(t, f.people)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestMailDBRefusesShrinkAndEmpty(t *testing.T) {
	f := newFixture(t)
	var many strings.Builder
	for i := range 10 {
		fmt.Fprintf(&many, "list%d: a,b\n", i)
	}
	f.write(f.al, many.String())
	if _, err := f.run(f.job()); err != nil {
		t.Fatal(err)
	}
	before := f.read("aliases")
	beforePw := f.read("passwd")

	// 4 of 10 entries: below (1 - 0.5) * 10.
	f.write(f.al, "list0: a\nlist1: a\nlist2: a\nlist3: a\n")
	f.write(f.pw, "root:x:0:1::0:0:Operator:/:/bin/csh\n")
	_, err := f.run(f.job())
	if !jobs.IsRefused(err) || !strings.Contains(err.Error(), "the dump has 4 entries and the installed file 10") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("error = %v", err)
	}
	if f.read("aliases") != before || f.read("passwd") != beforePw {
		t.Error("a refused dump changed the installed files")
	}
	assertNoTemp(t, f.people)

	// Empty: refused even with no shrink limit.
	f.write(f.al, "# nothing\n")
	j := f.job()
	j.MaxShrink = 1
	if _, err := f.run(j); !jobs.IsRefused(err) || !strings.Contains(err.Error(), "the dump is empty") {
		t.Fatalf("empty dump: %v", err)
	}
	if f.read("aliases") != before {
		t.Error("an empty dump changed aliases")
	}

	// --force installs it once.
	f.write(f.al, "list0: a\n")
	j = f.job()
	j.Force = true
	if _, err := f.run(j); err != nil {
		t.Fatal(err)
	}
	if f.read("aliases") != "list0: a\n" {
		t.Error("--force did not install")
	}
}

func TestMailDBBadInputInstallsNothing(t *testing.T) {
	f := newFixture(t)
	if _, err := f.run(f.job()); err != nil {
		t.Fatal(err)
	}
	before, beforePw := f.read("aliases"), f.read("passwd")
	for name, tc := range map[string]struct{ pw, al, want string }{
		"malformed alias":  {"", "a: b\n\tc\nbroken line\n", "aliases.dump:3: missing ':'"},
		"malformed passwd": {"root:*:0\n", "", "passwd.dump:1: 3 colon-separated fields"},
	} {
		t.Run(name, func(t *testing.T) {
			g := newFixture(t)
			g.people = f.people
			if tc.pw != "" {
				g.write(g.pw, tc.pw)
			}
			if tc.al != "" {
				g.write(g.al, tc.al)
			}
			_, err := g.run(g.job())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was installed") {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if f.read("aliases") != before || f.read("passwd") != beforePw {
				t.Error("bad input changed the installed files")
			}
			assertNoTemp(t, f.people)
		})
	}
	// A source command that fails.
	j := f.job()
	j.Source = source.Command{PasswdArgv: []string{"/bin/sh", "-c", "echo 'nidump: no such domain' >&2; exit 1"}, AliasesArgv: []string{"true"}, Timeout: time.Minute}
	if _, err := f.run(j); err == nil || !strings.Contains(err.Error(), "no such domain") {
		t.Fatalf("failing command: %v", err)
	}
	if f.read("passwd") != beforePw {
		t.Error("failing command changed passwd")
	}
}

func TestMailDBRemovesStaleTempAndReplacesSymlink(t *testing.T) {
	f := newFixture(t)
	f.write(filepath.Join(f.people, ".aliases12345"), "half a file")
	outside := filepath.Join(f.dir, "outside")
	f.write(outside, "do not touch\n")
	if err := os.Symlink(outside, filepath.Join(f.people, "passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run(f.job()); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, f.people)
	if b, _ := os.ReadFile(outside); string(b) != "do not touch\n" {
		t.Errorf("wrote through a symlink: %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(f.people, "passwd")); !fi.Mode().IsRegular() {
		t.Errorf("passwd is %v, want a regular file", fi.Mode())
	}
}

func TestMailDBPictures(t *testing.T) {
	f := newFixture(t)
	f.write(filepath.Join(f.pics, "jnewberg.tiff"), "TIFF1")
	f.write(filepath.Join(f.pics, "cricket@apple.com.TIF"), "TIFF2")
	f.write(filepath.Join(f.pics, "notes.txt"), "no")
	secret := filepath.Join(f.dir, "secret.tiff")
	f.write(secret, "SECRET")
	os.Symlink(secret, filepath.Join(f.pics, "evil.tiff"))
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	os.Chtimes(filepath.Join(f.pics, "jnewberg.tiff"), mtime, mtime)

	j := f.job()
	j.Pictures = f.pics
	sum, err := f.run(j)
	if err != nil {
		t.Fatal(err)
	}
	if sum.PicturesCopied != 2 || len(sum.Pictures.Skipped) != 1 {
		t.Errorf("pictures %+v", sum.Pictures)
	}
	if f.read("jnewberg.tiff") != "TIFF1" || f.read("cricket@apple.com.TIF") != "TIFF2" {
		t.Error("pictures not copied")
	}
	if fi, _ := os.Stat(filepath.Join(f.people, "jnewberg.tiff")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), mtime)
	}
	for _, n := range []string{"evil.tiff", "notes.txt"} {
		if _, err := os.Lstat(filepath.Join(f.people, n)); err == nil {
			t.Errorf("%s was copied", n)
		}
	}

	// Second run: nothing copied. A changed picture is copied again.
	if sum, err = f.run(j); err != nil || sum.PicturesCopied != 0 || sum.Pictures.Unchanged != 2 {
		t.Fatalf("second run: %+v, %v", sum.Pictures, err)
	}
	f.write(filepath.Join(f.pics, "jnewberg.tiff"), "TIFF1-new")
	if sum, err = f.run(j); err != nil || sum.PicturesCopied != 1 || f.read("jnewberg.tiff") != "TIFF1-new" {
		t.Fatalf("changed picture: %+v, %v", sum.Pictures, err)
	}

	// Removed from the master: kept without prune, removed with it.
	os.Remove(filepath.Join(f.pics, "cricket@apple.com.TIF"))
	if _, err = f.run(j); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.people, "cricket@apple.com.TIF")); err != nil {
		t.Error("picture removed without prune_pictures")
	}
	j.PrunePictures = true
	if sum, err = f.run(j); err != nil || sum.PicturesRemoved != 1 {
		t.Fatalf("prune: %+v, %v", sum.Pictures, err)
	}

	// An empty master directory (unmounted?) does not prune everything.
	os.Remove(filepath.Join(f.pics, "jnewberg.tiff"))
	if _, err = f.run(j); err == nil || !strings.Contains(err.Error(), "refusing to prune all 1 pictures") {
		t.Fatalf("empty master: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.people, "jnewberg.tiff")); err != nil {
		t.Error("pictures pruned against an empty master")
	}
}

func TestMailDBMissingPicturesDir(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.Pictures = filepath.Join(f.dir, "nope")
	if _, err := f.run(j); err == nil || !strings.Contains(err.Error(), "check [people] pictures") {
		t.Fatalf("error = %v", err)
	}
}

// handshake is a Source whose Passwd and Aliases each wait for the other
// to start: it only completes when they run at the same time.
type handshake struct {
	source.Files
	passwd, aliases chan struct{}
}

func (h handshake) meet(ctx context.Context, mine, theirs chan struct{}) error {
	close(mine)
	select {
	case <-theirs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the other dump did not start: they run one after the other")
	}
}

func (h handshake) Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error {
	if err := h.meet(ctx, h.passwd, h.aliases); err != nil {
		return err
	}
	return h.Files.Passwd(ctx, fn)
}

func (h handshake) Aliases(ctx context.Context, fn func(nidump.Alias) error) error {
	if err := h.meet(ctx, h.aliases, h.passwd); err != nil {
		return err
	}
	return h.Files.Aliases(ctx, fn)
}

func TestMailDBDumpsAtOnce(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.Source = handshake{Files: source.Files{PasswdPath: f.pw, AliasesPath: f.al}, passwd: make(chan struct{}), aliases: make(chan struct{})}
	if _, err := f.run(j); err != nil {
		t.Fatal(err)
	}
	if got := f.read("aliases"); !strings.Contains(got, "staff: jnewberg,root,bob@earthling\n") {
		t.Errorf("aliases = %q", got)
	}
}

// TestMailDBDumpErrors: a failing dump stops the other one at once, and
// the error reported is the one that failed first, not the one stopped.
func TestMailDBDumpErrors(t *testing.T) {
	for _, tc := range []struct {
		name, passwd, aliases, want string
	}{
		{"aliases fails, passwd hangs", "sleep 60", "echo 'no such domain' >&2; exit 3", "dump aliases: "},
		{"passwd fails, aliases hangs", "echo 'no such domain' >&2; exit 3", "sleep 60", "dump passwd: "},
		{"both fail", "exit 4", "sleep 0.5; exit 5", "dump passwd: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			j := f.job()
			j.Source = source.Command{PasswdArgv: []string{"/bin/sh", "-c", tc.passwd}, AliasesArgv: []string{"/bin/sh", "-c", tc.aliases}, Timeout: time.Minute, Grace: time.Second}
			start := time.Now()
			_, err := f.run(j)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was installed") {
				t.Fatalf("error %v, want it to start with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "canceled") {
				t.Errorf("error %v reports the dump that was stopped, not the one that failed", err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v: the hanging dump was not stopped", d)
			}
			if _, err := os.Stat(filepath.Join(f.people, "passwd")); !os.IsNotExist(err) {
				t.Errorf("passwd installed: %v", err)
			}
		})
	}
}
