// Package people maintains the People directory (/LocalLibrary/Images/People)
// that NeXTmail reads: the passwd and aliases files and the users' pictures.
// Every file is installed atomically (a temp file in the same directory,
// fsync, rename), a file whose content did not change is left alone, and a
// replacement that looks like a broken dump is refused before anything is
// renamed into place.
package people

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"

	"github.com/google/renameio/v2"
)

// Dir is an open People directory. Every path it touches is resolved inside
// it: a symlink never leads it outside.
type Dir struct {
	path string
	root *os.Root
}

// Open opens (creating it if needed, mode 0755) the People directory at
// path.
func Open(path string) (*Dir, error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("create People directory %s: %w", path, err)
		}
		// Whatever the umask: every client reads it.
		if err := os.Chmod(path, 0o755); err != nil {
			return nil, fmt.Errorf("create People directory %s: %w", path, err)
		}
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("open People directory %s: %w", path, err)
	}
	return &Dir{path: path, root: root}, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

// Staged is a replacement for one file of the directory, written to a temp
// file beside it and not yet in place.
type Staged struct {
	Name string // file name in the directory
	// Entries counts the entries written (one a line).
	Entries int
	// Installed counts the entries of the file in place now, -1 when there
	// is none.
	Installed int
	// Changed reports whether the content differs from the file in place.
	Changed bool

	pf       *renameio.PendingFile
	w        *bufio.Writer
	sum      hash.Hash
	dir      *Dir
	finished bool
	done     bool
}

// Stage starts a replacement for the file name. Write the new content,
// one entry a line, then call Finish, and Commit or Discard.
func (d *Dir) Stage(name string) (*Staged, error) {
	// 0644 whatever the umask (the units set UMask=0027): every client
	// reads these files. A file in place keeps its own mode.
	pf, err := renameio.NewPendingFile(name, renameio.WithRoot(d.root),
		renameio.WithPermissions(0o644), renameio.IgnoreUmask(), renameio.WithExistingPermissions())
	if err != nil {
		return nil, fmt.Errorf("create temp file for %s: %w", d.join(name), err)
	}
	s := &Staged{Name: name, Installed: -1, pf: pf, sum: sha256.New(), dir: d}
	s.w = bufio.NewWriterSize(io.MultiWriter(pf, s.sum), 64*1024)
	return s, nil
}

// Write writes content; each '\n' ends one entry.
func (s *Staged) Write(p []byte) (int, error) {
	s.Entries += bytes.Count(p, []byte{'\n'})
	n, err := s.w.Write(p)
	if err != nil {
		return n, s.dir.wrap("write", s.Name, err)
	}
	return n, nil
}

// Finish flushes the content and compares it with the file in place,
// setting Installed and Changed.
func (s *Staged) Finish() error {
	if err := s.w.Flush(); err != nil {
		return s.dir.wrap("write", s.Name, err)
	}
	n, sum, err := s.dir.count(s.Name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.Changed = true
	case err != nil:
		return err
	default:
		s.Installed = n
		s.Changed = !bytes.Equal(sum, s.sum.Sum(nil))
	}
	s.finished = true
	return nil
}

// Commit puts a changed file in place atomically (an unchanged one is left
// alone, so its mtime stays) and removes the temp file.
func (s *Staged) Commit() error {
	if s.done {
		return nil
	}
	if !s.finished {
		// A programming error: without Finish the content was neither
		// flushed nor compared.
		return fmt.Errorf("install %s: Commit before Finish", s.dir.join(s.Name))
	}
	s.done = true
	if !s.Changed {
		return s.pf.Cleanup()
	}
	if err := s.pf.CloseAtomicallyReplace(); err != nil {
		s.pf.Cleanup()
		return s.dir.wrap("install", s.Name, err)
	}
	return s.dir.syncDir()
}

// Discard removes the temp file; the file in place stays as it was.
func (s *Staged) Discard() error {
	if s.done {
		return nil
	}
	s.done = true
	return s.pf.Cleanup()
}

// wrap names the file an operation failed on, and says how to fix a full
// file system.
func (d *Dir) wrap(op, name string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%s %s: the file system is full; free space there and run again (the installed file is unchanged): %w", op, d.join(name), err)
	}
	return fmt.Errorf("%s %s: %w", op, d.join(name), err)
}

// count reads the file in place, returning its entries (lines that are not
// blank, comments or continuations) and its SHA-256. A file that is not a
// regular file (a symlink, say) counts as absent: it is never followed.
func (d *Dir) count(name string) (int, []byte, error) {
	if fi, err := d.root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, nil, fmt.Errorf("stat installed %s: %w", d.join(name), err)
		}
		return 0, nil, os.ErrNotExist
	}
	f, err := d.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("read installed %s: %w", d.join(name), err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, nil, fmt.Errorf("read installed %s: changed into something other than a regular file; run again", d.join(name))
	}
	h := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(f, h), 64*1024)
	n, start := 0, true
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && start {
			switch line[0] {
			case ' ', '\t', '#', '\n', '\r':
			default:
				n++
			}
		}
		start = err == nil
		if err == io.EOF {
			return n, h.Sum(nil), nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return 0, nil, fmt.Errorf("read installed %s: %w", d.join(name), err)
		}
	}
}

func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

func (d *Dir) syncDir() error {
	f, err := d.root.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	return nil
}

// staleTemp matches the temp files renameio names (".NAME" and digits).
var staleTemp = regexp.MustCompile(`^\.(passwd|aliases|.+\.(?i:tiff?))[0-9]+$`)

// RemoveStaleTemp removes temp files an interrupted run left behind, and
// returns their names.
func (d *Dir) RemoveStaleTemp() ([]string, error) {
	entries, err := readDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.path, err)
	}
	var removed []string
	for _, e := range entries {
		if e.Type().IsRegular() && staleTemp.MatchString(e.Name()) {
			if err := d.root.Remove(e.Name()); err != nil {
				return removed, fmt.Errorf("remove stale temp file %s: %w", d.join(e.Name()), err)
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

func readDir(root *os.Root) ([]os.DirEntry, error) {
	f, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}
