package sync

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// matchGlob reports whether pattern matches rel: a pattern without "/"
// matches rel's last element, one with "/" the whole path.
func matchGlob(pattern, rel string) bool {
	name := rel
	if !strings.Contains(pattern, "/") {
		name = path.Base(rel)
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// excluded reports whether rel or one of its parent directories matches an
// exclude pattern.
func excluded(patterns []string, rel string) bool {
	if len(patterns) == 0 {
		return false
	}
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		for _, pat := range patterns {
			if matchGlob(pat, p) {
				return true
			}
		}
	}
	return false
}

// source is the scanned local tree.
type source struct {
	dir     string
	entries map[string]Entry // regular files and directories, not excluded
	files   int
	skipped []string
}

// scanSource lists dir, leaving out excluded paths, temporary-file names,
// and (with a warning) symbolic links and other non-regular files.
func scanSource(ctx context.Context, dir string, exclude []string, log *slog.Logger) (*source, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, permanent(fmt.Errorf("source %s: %w (not mounted?): nothing is sent or deleted", dir, ErrSourceMissing))
	}
	if err != nil {
		return nil, permanent(fmt.Errorf("source %s: %w", dir, err))
	}
	if !fi.IsDir() {
		return nil, permanent(fmt.Errorf("source %s: not a directory", dir))
	}
	t, err := NewLocalTarget(dir)
	if err != nil {
		return nil, err
	}
	all, err := t.List(ctx)
	if err != nil {
		return nil, permanent(fmt.Errorf("scan source: %w", err))
	}
	s := &source{dir: t.(*localTarget).dir, entries: make(map[string]Entry, len(all))}
	for _, e := range all {
		if excluded(exclude, e.Path) {
			continue
		}
		switch {
		case e.IsTemp():
			continue
		case e.IsDir():
			s.entries[e.Path] = e
		case e.IsRegular():
			s.entries[e.Path] = e
			s.files++
		default:
			what := "a symbolic link (not followed)"
			if e.Mode&fs.ModeSymlink == 0 {
				what = "not a regular file"
			}
			log.Warn("skipping local path", "file", filepath.Join(dir, e.Path), "reason", what)
			s.skipped = append(s.skipped, e.Path)
		}
	}
	return s, nil
}

// openSource opens a source file without following a symbolic link.
func (s *source) open(rel string) (*os.File, FileMeta, error) {
	p := filepath.Join(s.dir, filepath.FromSlash(rel))
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			err = fmt.Errorf("became a symbolic link: %w", fs.ErrNotExist)
		}
		return nil, FileMeta{}, fmt.Errorf("open %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileMeta{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, FileMeta{}, fmt.Errorf("open %s: no longer a regular file: %w", p, fs.ErrNotExist)
	}
	return f, FileMeta{Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}, nil
}

// plan is what one host needs.
type plan struct {
	mkdirs    []Change // parents first
	sends     []Change // largest first
	deletes   []Change // files first, then directories deepest first
	stale     []string // leftover temporary files
	conflicts []error
	sendBytes int64
}

// makePlan compares the source with a host's entries. With CompareContent,
// equal-sized files are compared byte for byte, reading from t.
func makePlan(ctx context.Context, src *source, remote []Entry, t Target, opts *Options) (*plan, error) {
	p := &plan{}
	rmap := make(map[string]Entry, len(remote))
	for _, e := range remote {
		rmap[e.Path] = e
	}
	paths := make([]string, 0, len(src.entries))
	for rel := range src.entries {
		paths = append(paths, rel)
	}
	sort.Strings(paths)

	var compare []Change
	var blocked []string // local paths whose subtree cannot be synced
	for _, rel := range paths {
		if isBelowAny(rel, blocked) {
			continue
		}
		l := src.entries[rel]
		r, exists := rmap[rel]
		switch {
		case l.IsDir() && !exists:
			p.mkdirs = append(p.mkdirs, Change{Kind: ChangeMkdir, Path: rel, Dir: true})
		case l.IsDir() && !r.IsDir():
			p.conflicts = append(p.conflicts, fmt.Errorf("%s: %w: a directory here, not a directory on the server; remove it there by hand", rel, ErrTypeConflict))
			blocked = append(blocked, rel)
		case l.IsDir():
		case !exists:
			p.sends = append(p.sends, Change{Kind: ChangeCreate, Path: rel})
		case r.IsDir():
			p.conflicts = append(p.conflicts, fmt.Errorf("%s: %w: a file here, a directory on the server; remove it there by hand", rel, ErrTypeConflict))
		case !r.IsRegular():
			p.sends = append(p.sends, Change{Kind: ChangeUpdate, Path: rel, Size: true, Time: true, Perms: true})
		default:
			c := Change{
				Kind:  ChangeUpdate,
				Path:  rel,
				Size:  l.Size != r.Size,
				Perms: l.Mode.Perm() != r.Mode.Perm(),
			}
			if opts.Compare == CompareContent {
				if !c.Size && !c.Perms {
					compare = append(compare, c)
					continue
				}
				c.Content = true
			} else {
				c.Time = l.ModTime.Unix() != r.ModTime.Unix()
			}
			if c.Size || c.Time || c.Perms || c.Content {
				p.sends = append(p.sends, c)
			}
		}
	}
	if len(compare) > 0 {
		differ, err := compareContents(ctx, src, t, compare, orDefault(opts.Concurrency, DefaultConcurrency))
		if err != nil {
			return nil, err
		}
		p.sends = append(p.sends, differ...)
	}
	for _, c := range p.sends {
		p.sendBytes += src.entries[c.Path].Size
	}
	sort.SliceStable(p.sends, func(i, j int) bool {
		return src.entries[p.sends[i].Path].Size > src.entries[p.sends[j].Path].Size
	})

	// Leftover temporary files and extraneous entries.
	var protected []string // excluded remote entries: their parents stay
	for _, e := range remote {
		if excluded(opts.Exclude, e.Path) {
			protected = append(protected, e.Path)
		}
	}
	var dirs []Change
	for _, e := range remote {
		if excluded(opts.Exclude, e.Path) {
			continue
		}
		if e.IsTemp() && !e.IsDir() {
			p.stale = append(p.stale, e.Path)
			continue
		}
		if _, ok := src.entries[e.Path]; ok || !opts.Delete {
			continue
		}
		if isBelowAny(e.Path, blocked) {
			continue
		}
		if e.IsDir() {
			if !hasBelow(e.Path, protected) {
				dirs = append(dirs, Change{Kind: ChangeDelete, Path: e.Path, Dir: true})
			}
			continue
		}
		p.deletes = append(p.deletes, Change{Kind: ChangeDelete, Path: e.Path})
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Path > dirs[j].Path }) // children first
	p.deletes = append(p.deletes, dirs...)
	return p, nil
}

func isBelowAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

func hasBelow(dir string, paths []string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// errDiffer stops a comparison at the first difference.
var errDiffer = errors.New("contents differ")

// compareContents returns the candidates whose bytes differ from the
// server's, marked Content.
func compareContents(ctx context.Context, src *source, t Target, cands []Change, workers int) ([]Change, error) {
	differ := make([]bool, len(cands))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, c := range cands {
		g.Go(func() error {
			d, err := contentDiffers(ctx, src, t, c.Path)
			differ[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Change
	for i, c := range cands {
		if differ[i] {
			c.Content = true
			out = append(out, c)
		}
	}
	return out, nil
}

func contentDiffers(ctx context.Context, src *source, t Target, rel string) (bool, error) {
	lf, _, err := src.open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // vanished: the send step reports it
	}
	if err != nil {
		return false, err
	}
	defer lf.Close()
	rf, err := t.Open(ctx, rel)
	if err != nil {
		return false, fmt.Errorf("compare %s: %w", rel, err)
	}
	defer rf.Close()
	cw := &compareWriter{local: bufio.NewReaderSize(lf, 64*1024)}
	if _, err := io.Copy(cw, rf); err != nil {
		if errors.Is(err, errDiffer) {
			return true, nil
		}
		return false, fmt.Errorf("compare %s: %w", rel, err)
	}
	if _, err := cw.local.ReadByte(); err != io.EOF {
		return true, nil // the local file is longer
	}
	return false, nil
}

// compareWriter compares what is written with local's next bytes.
type compareWriter struct {
	local *bufio.Reader
	buf   []byte
}

func (w *compareWriter) Write(b []byte) (int, error) {
	if cap(w.buf) < len(b) {
		w.buf = make([]byte, len(b))
	}
	buf := w.buf[:len(b)]
	if _, err := io.ReadFull(w.local, buf); err != nil || !bytes.Equal(buf, b) {
		return 0, errDiffer
	}
	return len(b), nil
}
