package people

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"

	"github.com/google/renameio/v2"
)

// picture matches the names of pictures: *.tiff and *.tif, any case.
var picture = regexp.MustCompile(`^[^.].*\.(?i:tiff?)$`)

// IsPicture reports whether name is a picture's file name.
func IsPicture(name string) bool { return picture.MatchString(name) }

// PictureOptions configure MirrorPictures.
type PictureOptions struct {
	// Prune removes pictures from the People directory that the master
	// directory no longer has.
	Prune bool
	// Force allows pruning every picture when the master directory has
	// none (which otherwise looks like an unmounted directory).
	Force bool
}

// PictureResult says what MirrorPictures did.
type PictureResult struct {
	Copied    []string // new or changed pictures copied in
	Unchanged int
	Removed   []string // pruned
	Skipped   []string // not regular files, with a warning logged
}

// MirrorPictures copies the pictures in the master directory src into the
// People directory: regular files named *.tiff or *.tif (any case), copied
// only when new or changed (size or mtime), with their mtime. Symlinks,
// devices and directories are skipped with a warning and never read.
func (d *Dir) MirrorPictures(src string, opts PictureOptions, log *slog.Logger) (PictureResult, error) {
	var res PictureResult
	root, err := os.OpenRoot(src)
	if err != nil {
		return res, fmt.Errorf("open pictures directory %s: %w: check [people] pictures", src, err)
	}
	defer root.Close()
	entries, err := readDir(root)
	if err != nil {
		return res, fmt.Errorf("list pictures directory %s: %w", src, err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !IsPicture(name) {
			if !e.IsDir() {
				log.Warn("skipping a file that is not a picture (*.tiff or *.tif)", "file", name, "dir", src)
			}
			continue
		}
		if !e.Type().IsRegular() {
			log.Warn("skipping a picture that is not a regular file", "file", name, "dir", src, "type", e.Type().String())
			res.Skipped = append(res.Skipped, name)
			continue
		}
		have[name] = true
		copied, err := d.copyPicture(root, name)
		if err != nil {
			return res, err
		}
		if copied {
			res.Copied = append(res.Copied, name)
		} else {
			res.Unchanged++
		}
	}
	if !opts.Prune {
		return res, nil
	}
	installed, err := readDir(d.root)
	if err != nil {
		return res, fmt.Errorf("list %s: %w", d.path, err)
	}
	var gone []string
	for _, e := range installed {
		if e.Type().IsRegular() && IsPicture(e.Name()) && !have[e.Name()] {
			gone = append(gone, e.Name())
		}
	}
	sort.Strings(gone)
	if len(have) == 0 && len(gone) > 0 && !opts.Force {
		return res, fmt.Errorf("refusing to prune all %d pictures from %s: the pictures directory %s has none (is it mounted?); run again with --force if this is meant", len(gone), d.path, src)
	}
	for _, name := range gone {
		if err := d.root.Remove(name); err != nil {
			return res, fmt.Errorf("remove picture %s: %w", d.join(name), err)
		}
		res.Removed = append(res.Removed, name)
	}
	return res, nil
}

// copyPicture copies one picture when it is new or changed.
func (d *Dir) copyPicture(src *os.Root, name string) (bool, error) {
	listed, err := src.Lstat(name)
	if err != nil {
		return false, fmt.Errorf("stat picture %s: %w", name, err)
	}
	in, err := src.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, fmt.Errorf("open picture %s: %w", name, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return false, fmt.Errorf("stat picture %s: %w", name, err)
	}
	// What was opened must be the regular file that was listed: a symlink
	// swapped in meanwhile is never read through.
	if !listed.Mode().IsRegular() || !fi.Mode().IsRegular() || !os.SameFile(listed, fi) {
		return false, fmt.Errorf("picture %s changed into something other than a regular file while it was copied; run again", name)
	}
	if cur, err := d.root.Lstat(name); err == nil && cur.Mode().IsRegular() &&
		cur.Size() == fi.Size() && cur.ModTime().Equal(fi.ModTime()) {
		return false, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("stat %s: %w", d.join(name), err)
	}
	pf, err := renameio.NewPendingFile(name, renameio.WithRoot(d.root), renameio.WithPermissions(0o644), renameio.IgnoreUmask())
	if err != nil {
		return false, fmt.Errorf("create temp file for %s: %w", d.join(name), err)
	}
	defer pf.Cleanup()
	if _, err := io.Copy(pf, in); err != nil {
		return false, d.wrap("copy picture to", name, err)
	}
	// The temp file was opened through the root; its base name is its name
	// there.
	if err := d.root.Chtimes(filepath.Base(pf.Name()), fi.ModTime(), fi.ModTime()); err != nil {
		return false, fmt.Errorf("set mtime of %s: %w", d.join(name), err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return false, d.wrap("install picture", name, err)
	}
	return true, nil
}
