package people

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	// old is an mtime no test run can produce by writing a file now.
	old = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
)

func openDir(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "People"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // os.WriteFile honours the umask
		t.Fatal(err)
	}
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lstat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// names lists dir, sorted: a leftover temp file shows up here.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

// stage writes content in two pieces (split mid-line) and finishes it.
func stage(t *testing.T, d *Dir, name, content string) *Staged {
	t.Helper()
	s, err := d.Stage(name)
	if err != nil {
		t.Fatal(err)
	}
	half := len(content) / 2
	for _, p := range []string{content[:half], content[half:]} {
		if n, err := s.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStageCommit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		installed string      // the file in place, if mode is not 0
		mode      os.FileMode // 0: no file in place
		content   string
		entries   int
		wantInst  int
		changed   bool
		wantMode  os.FileMode
	}{
		{name: "new file", content: "root:*:0:1\njoe:*:1001:20\n", entries: 2, wantInst: -1, changed: true, wantMode: 0o644},
		{name: "unchanged", installed: "a\nb\n", mode: 0o644, content: "a\nb\n", entries: 2, wantInst: 2, changed: false, wantMode: 0o644},
		{name: "changed", installed: "a\nb\nc\n", mode: 0o644, content: "a\nd\n", entries: 2, wantInst: 3, changed: true, wantMode: 0o644},
		{name: "changed keeps the installed mode", installed: "a\n", mode: 0o640, content: "b\n", entries: 1, wantInst: 1, changed: true, wantMode: 0o640},
		{name: "empty replaces a file", installed: "a\n", mode: 0o644, content: "", entries: 0, wantInst: 1, changed: true, wantMode: 0o644},
		// Entries counts every line written, comments and continuations
		// included, unlike Installed.
		{name: "entries counts lines", content: "a\n# c\nstaff: a,\n\tb\n", entries: 4, wantInst: -1, changed: true, wantMode: 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDir(t)
			path := filepath.Join(d.Path(), "aliases")
			var before os.FileInfo
			if tc.mode != 0 {
				writeFile(t, path, tc.installed, tc.mode)
				before = lstat(t, path)
			}
			s := stage(t, d, "aliases", tc.content)
			if s.Entries != tc.entries || s.Installed != tc.wantInst || s.Changed != tc.changed {
				t.Errorf("Entries, Installed, Changed = %d, %d, %v; want %d, %d, %v", s.Entries, s.Installed, s.Changed, tc.entries, tc.wantInst, tc.changed)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != tc.content {
				t.Errorf("content %q, want %q", got, tc.content)
			}
			after := lstat(t, path)
			if got := after.Mode(); got != tc.wantMode {
				t.Errorf("mode %v, want %v", got, tc.wantMode)
			}
			if before != nil {
				if same := os.SameFile(before, after) && after.ModTime().Equal(old); same == tc.changed {
					t.Errorf("same inode and mtime after Commit: %v, want %v", same, !tc.changed)
				}
			}
			if got := names(t, d.Path()); !slices.Equal(got, []string{"aliases"}) {
				t.Errorf("directory holds %q, want only aliases", got)
			}
		})
	}
}

func TestInstalledCountsEntries(t *testing.T) {
	long := strings.Repeat("a", 64*1024) // fills the read buffer exactly
	for _, tc := range []struct {
		name, installed string
		want            int
	}{
		{"empty", "", 0},
		{"plain", "a\nb\nc\n", 3},
		{"no final newline", "a\nb", 2},
		{"blank and comments", "\n#x\n  \na\n\n# y: z\n", 1},
		{"continuations", "staff: a,\n b,\n\tc\nroot: joe\n", 2},
		{"CRLF blank lines", "a\r\n\r\nb\r\n", 2},
		{"line longer than the buffer", long + "b\n" + long + "\n\tc\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDir(t)
			writeFile(t, filepath.Join(d.Path(), "passwd"), tc.installed, 0o644)
			s := stage(t, d, "passwd", "x\n")
			defer s.Discard()
			if s.Installed != tc.want {
				t.Errorf("Installed = %d, want %d", s.Installed, tc.want)
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	d := openDir(t)
	path := filepath.Join(d.Path(), "passwd")
	writeFile(t, path, "root:*:0:1\n", 0o644)
	before := lstat(t, path)
	s := stage(t, d, "passwd", "intruder:*:0:0\n")
	if !s.Changed {
		t.Fatal("Changed = false for a different content")
	}
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil { // a no-op once discarded
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "root:*:0:1\n" {
		t.Errorf("content %q after Discard", got)
	}
	if after := lstat(t, path); !os.SameFile(before, after) || !after.ModTime().Equal(old) {
		t.Error("the installed file was replaced or touched")
	}
	if got := names(t, d.Path()); !slices.Equal(got, []string{"passwd"}) {
		t.Errorf("directory holds %q, want only passwd", got)
	}
}

func TestSymlinkIsNotFollowed(t *testing.T) {
	d := openDir(t)
	// The outside file holds the very content staged: following the link
	// would find it unchanged.
	outside := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, outside, "root:*:0:1\n", 0o600)
	path := filepath.Join(d.Path(), "passwd")
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	s := stage(t, d, "passwd", "root:*:0:1\n")
	if s.Installed != -1 || !s.Changed {
		t.Errorf("Installed, Changed = %d, %v; want -1, true", s.Installed, s.Changed)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi := lstat(t, path); fi.Mode() != 0o644 {
		t.Errorf("installed passwd has mode %v, want a regular file 0644", fi.Mode())
	}
	if got := readFile(t, path); got != "root:*:0:1\n" {
		t.Errorf("installed content %q", got)
	}
	if fi := lstat(t, outside); fi.Mode() != 0o600 || !fi.ModTime().Equal(old) || readFile(t, outside) != "root:*:0:1\n" {
		t.Errorf("the link's target changed: mode %v, mtime %v", fi.Mode(), fi.ModTime())
	}
}

func TestRemoveStaleTemp(t *testing.T) {
	d := openDir(t)
	for _, n := range []string{".passwd123", ".aliases9", ".Joe.tiff42", "passwd", ".hidden", ".passwd", "Joe.tiff"} {
		writeFile(t, filepath.Join(d.Path(), n), "x\n", 0o644)
	}
	if err := os.Mkdir(filepath.Join(d.Path(), ".aliases1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("passwd", filepath.Join(d.Path(), ".passwd77")); err != nil {
		t.Fatal(err)
	}
	removed, err := d.RemoveStaleTemp()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".Joe.tiff42", ".aliases9", ".passwd123"}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if got, want := names(t, d.Path()), []string{".aliases1", ".hidden", ".passwd", ".passwd77", "Joe.tiff", "passwd"}; !slices.Equal(got, want) {
		t.Errorf("left %q, want %q", got, want)
	}
}

func TestMirrorPictures(t *testing.T) {
	d := openDir(t)
	src, outside := t.TempDir(), t.TempDir()
	pics := map[string]string{"C.TIFF": "upper", "a.tiff": "alpha", "b.tif": "beta"}
	for n, c := range pics {
		writeFile(t, filepath.Join(src, n), c, 0o644)
	}
	writeFile(t, filepath.Join(src, "notes.txt"), "not a picture", 0o644)
	writeFile(t, filepath.Join(outside, "secret"), "outside", 0o600)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "x.tiff")); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))

	res, err := d.MirrorPictures(src, PictureOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"C.TIFF", "a.tiff", "b.tif"}; !slices.Equal(res.Copied, want) || res.Unchanged != 0 {
		t.Errorf("first run copied %q, %d unchanged; want %q, 0", res.Copied, res.Unchanged, want)
	}
	if !slices.Equal(res.Skipped, []string{"x.tiff"}) {
		t.Errorf("skipped %q, want [x.tiff]", res.Skipped)
	}
	if !strings.Contains(logged.String(), "level=WARN msg=\"skipping a picture that is not a regular file\" file=x.tiff") {
		t.Errorf("no warning for the symlink; log:\n%s", logged.String())
	}
	for n, c := range pics {
		p := filepath.Join(d.Path(), n)
		if fi := lstat(t, p); readFile(t, p) != c || !fi.ModTime().Equal(old) || fi.Mode() != 0o644 {
			t.Errorf("%s: content %q, mtime %v, mode %v; want %q, %v, 0644", n, readFile(t, p), fi.ModTime(), fi.Mode(), c, old)
		}
	}
	if got, want := names(t, d.Path()), []string{"C.TIFF", "a.tiff", "b.tif"}; !slices.Equal(got, want) {
		t.Errorf("People holds %q, want %q (no symlink target, no notes.txt, no temp file)", got, want)
	}

	res, err = d.MirrorPictures(src, PictureOptions{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Copied) != 0 || res.Unchanged != 3 {
		t.Errorf("second run copied %q, %d unchanged; want none, 3", res.Copied, res.Unchanged)
	}

	writeFile(t, filepath.Join(src, "a.tiff"), "alpha, bigger", 0o644) // new size, same mtime
	if err := os.Chtimes(filepath.Join(src, "b.tif"), old, old.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err = d.MirrorPictures(src, PictureOptions{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.tiff", "b.tif"}; !slices.Equal(res.Copied, want) || res.Unchanged != 1 {
		t.Errorf("third run copied %q, %d unchanged; want %q, 1", res.Copied, res.Unchanged, want)
	}
	if got := readFile(t, filepath.Join(d.Path(), "a.tiff")); got != "alpha, bigger" {
		t.Errorf("a.tiff holds %q after it changed", got)
	}
	if got := lstat(t, filepath.Join(d.Path(), "b.tif")).ModTime(); !got.Equal(old.Add(time.Second)) {
		t.Errorf("b.tif mtime %v after it changed", got)
	}
}

func TestMirrorPicturesPrune(t *testing.T) {
	for _, tc := range []struct {
		name      string
		source    []string // pictures left in the source
		opts      PictureOptions
		removed   []string
		errSubstr string
		left      []string
	}{
		{name: "no prune", source: []string{"a.tiff"}, left: []string{"a.tiff", "b.tif", "passwd"}},
		{name: "prune", source: []string{"a.tiff"}, opts: PictureOptions{Prune: true}, removed: []string{"b.tif"}, left: []string{"a.tiff", "passwd"}},
		{name: "prune all refused", opts: PictureOptions{Prune: true}, errSubstr: "refusing to prune", left: []string{"a.tiff", "b.tif", "passwd"}},
		{name: "prune all forced", opts: PictureOptions{Prune: true, Force: true}, removed: []string{"a.tiff", "b.tif"}, left: []string{"passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDir(t)
			src := t.TempDir()
			for _, n := range []string{"a.tiff", "b.tif"} {
				writeFile(t, filepath.Join(src, n), n, 0o644)
			}
			if _, err := d.MirrorPictures(src, PictureOptions{}, quiet); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(d.Path(), "passwd"), "root:*:0:1\n", 0o644)
			for _, n := range []string{"a.tiff", "b.tif"} {
				if !slices.Contains(tc.source, n) {
					if err := os.Remove(filepath.Join(src, n)); err != nil {
						t.Fatal(err)
					}
				}
			}
			res, err := d.MirrorPictures(src, tc.opts, quiet)
			if tc.errSubstr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.errSubstr != "" && (err == nil || !strings.Contains(err.Error(), tc.errSubstr)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.errSubstr)
			}
			if !slices.Equal(res.Removed, tc.removed) {
				t.Errorf("removed %q, want %q", res.Removed, tc.removed)
			}
			if got := names(t, d.Path()); !slices.Equal(got, tc.left) {
				t.Errorf("People holds %q, want %q", got, tc.left)
			}
		})
	}
}

// TestPruneOnlyRegularFiles: pruning removes pictures it could have
// copied, regular files; a symlink or a directory with a picture's name in
// the People directory is someone else's and stays (and the link's target
// with it).
func TestPruneOnlyRegularFiles(t *testing.T) {
	d := openDir(t)
	src, outside := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(src, "a.tiff"), "a", 0o644)
	writeFile(t, filepath.Join(outside, "target.tiff"), "outside", 0o644)
	writeFile(t, filepath.Join(d.Path(), "gone.tiff"), "gone", 0o644)
	if err := os.Symlink(filepath.Join(outside, "target.tiff"), filepath.Join(d.Path(), "link.tiff")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d.Path(), "dir.tiff"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := d.MirrorPictures(src, PictureOptions{Prune: true}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{"gone.tiff"}) {
		t.Errorf("removed %q, want [gone.tiff]", res.Removed)
	}
	if got, want := names(t, d.Path()), []string{"a.tiff", "dir.tiff", "link.tiff"}; !slices.Equal(got, want) {
		t.Errorf("People holds %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(outside, "target.tiff")); got != "outside" {
		t.Errorf("the link's target holds %q", got)
	}
}

func TestMirrorPicturesMissingSource(t *testing.T) {
	d := openDir(t)
	_, err := d.MirrorPictures(filepath.Join(t.TempDir(), "nonexistent"), PictureOptions{Prune: true, Force: true}, quiet)
	if err == nil || !strings.Contains(err.Error(), "[people] pictures") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want one that wraps ErrNotExist and mentions [people] pictures", err)
	}
}

func TestWrap(t *testing.T) {
	d := &Dir{path: "/LocalLibrary/Images/People"}
	for _, tc := range []struct {
		name     string
		err      error
		want     string
		wantFull bool
	}{
		{"ENOSPC", syscall.ENOSPC, "write /LocalLibrary/Images/People/passwd: the file system is full", true},
		{"wrapped ENOSPC", &os.PathError{Op: "write", Path: ".passwd1", Err: syscall.ENOSPC}, "write /LocalLibrary/Images/People/passwd: the file system is full", true},
		{"other error", syscall.EACCES, "write /LocalLibrary/Images/People/passwd: permission denied", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.wrap("write", "passwd", tc.err)
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
			if full := strings.Contains(err.Error(), "file system is full"); full != tc.wantFull {
				t.Errorf("error %q mentions a full file system: %v, want %v", err, full, tc.wantFull)
			}
			if !errors.Is(err, tc.err) || errors.Is(err, syscall.ENOSPC) != tc.wantFull {
				t.Errorf("error %q does not wrap %v as it should", err, tc.err)
			}
		})
	}
}

// TestModesIgnoreUmask: the People directory, its files and its pictures
// are readable by every client even under the units' UMask=0027 (or 077).
func TestModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077) // process-wide: no test here runs in parallel
	t.Cleanup(func() { syscall.Umask(old) })

	d := openDir(t)
	if fi := lstat(t, d.Path()); fi.Mode().Perm() != 0o755 {
		t.Errorf("new People directory: mode %v, want 0755", fi.Mode().Perm())
	}
	s, err := d.Stage("aliases")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("a: b\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi := lstat(t, filepath.Join(d.Path(), "aliases")); fi.Mode().Perm() != 0o644 {
		t.Errorf("aliases: mode %v, want 0644", fi.Mode().Perm())
	}

	src := t.TempDir()
	writeFile(t, filepath.Join(src, "joe.tiff"), "II*", 0o600)
	if _, err := d.MirrorPictures(src, PictureOptions{}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if fi := lstat(t, filepath.Join(d.Path(), "joe.tiff")); fi.Mode().Perm() != 0o644 {
		t.Errorf("joe.tiff: mode %v, want 0644", fi.Mode().Perm())
	}
}

// TestCommitBeforeFinish: Commit without Finish is refused, not a silent
// no-op, and the file in place stays.
func TestCommitBeforeFinish(t *testing.T) {
	d := openDir(t)
	path := filepath.Join(d.Path(), "passwd")
	writeFile(t, path, "root:*:0:1\n", 0o644)
	s, err := d.Stage("passwd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("joe:*:1001:20\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err == nil || !strings.Contains(err.Error(), "before Finish") {
		t.Fatalf("Commit before Finish: %v, want an error", err)
	}
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "root:*:0:1\n" {
		t.Errorf("passwd = %q, want it unchanged", got)
	}
}
