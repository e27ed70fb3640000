package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// localTarget is a directory on this machine. Its operations are confined to
// the directory (os.Root): paths and symbolic links cannot lead out of it.
type localTarget struct {
	dir string
}

var _ Target = (*localTarget)(nil)

// NewLocalTarget returns the directory dir as a Target. The directory need
// not exist yet (List then fails with fs.ErrNotExist, and Mkdir(".")
// creates it). Installs are fsynced before the rename.
func NewLocalTarget(dir string) (Target, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local target %s: %w", dir, err)
	}
	return &localTarget{dir: abs}, nil
}

func (t *localTarget) openRoot() (*os.Root, error) {
	r, err := os.OpenRoot(t.dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", t.dir, err)
	}
	return r, nil
}

func (t *localTarget) List(ctx context.Context) ([]Entry, error) {
	root, err := t.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var entries []Entry
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := root.Open(rel)
		if err != nil {
			return fmt.Errorf("list %s: %w", filepath.Join(t.dir, rel), err)
		}
		des, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("list %s: %w", filepath.Join(t.dir, rel), err)
		}
		for _, de := range des {
			fi, err := de.Info() // lstat: links are not followed
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			if err != nil {
				return fmt.Errorf("stat %s: %w", filepath.Join(t.dir, rel, de.Name()), err)
			}
			e := Entry{Path: path.Join(rel, de.Name()), Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
			entries = append(entries, e)
			if e.IsDir() {
				if err := walk(e.Path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}

func (t *localTarget) Open(ctx context.Context, rel string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := t.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(t.dir, rel), err)
	}
	return f, nil
}

func (t *localTarget) Install(ctx context.Context, rel string, r io.Reader, meta FileMeta) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := t.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := path.Join(path.Dir(rel), tempName(path.Base(rel)))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Join(t.dir, tmp), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, io.LimitReader(&ctxReader{ctx, r}, meta.Size))
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(t.dir, tmp), err)
	}
	if n != meta.Size {
		return fmt.Errorf("install %s: read %d of %d bytes: %w", rel, n, meta.Size, ErrSourceChanged)
	}
	if err := f.Chmod(meta.Mode.Perm()); err != nil {
		return fmt.Errorf("chmod %s: %w", filepath.Join(t.dir, tmp), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Join(t.dir, tmp), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Join(t.dir, tmp), err)
	}
	if err := root.Chtimes(tmp, time.Now(), meta.ModTime); err != nil {
		return fmt.Errorf("set mtime %s: %w", filepath.Join(t.dir, tmp), err)
	}
	if err := root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Join(t.dir, tmp), err)
	}
	return nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(b)
}

func (t *localTarget) Mkdir(ctx context.Context, rel string, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rel == "." {
		if err := os.MkdirAll(t.dir, perm.Perm()); err != nil {
			return fmt.Errorf("mkdir %s: %w", t.dir, err)
		}
		return nil
	}
	root, err := t.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	if fi, err := root.Lstat(rel); err == nil && fi.IsDir() {
		return nil
	}
	if err := root.MkdirAll(rel, perm.Perm()); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Join(t.dir, rel), err)
	}
	if err := root.Chmod(rel, perm.Perm()); err != nil { // umask
		return fmt.Errorf("chmod %s: %w", filepath.Join(t.dir, rel), err)
	}
	return nil
}

func (t *localTarget) Remove(ctx context.Context, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := t.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(rel); err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Join(t.dir, rel), err)
	}
	return nil
}

// Run runs command with /bin/sh -c in the directory, with env added to this
// process's environment.
func (t *localTarget) Run(ctx context.Context, command string, env map[string]string) (RunResult, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = t.dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := RunResult{Output: append(stdout.Bytes(), stderr.Bytes()...)}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitStatus = ee.ExitCode()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("run %q in %s: %w", command, t.dir, err)
	}
	return res, nil
}

func (t *localTarget) Close() error { return nil }
