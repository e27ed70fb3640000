package sftpserver

import (
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// handler serves SFTP requests from the server's os.Root.
type handler struct {
	s *Server
}

var (
	_ sftp.FileReader           = (*handler)(nil)
	_ sftp.OpenFileWriter       = (*handler)(nil)
	_ sftp.PosixRenameFileCmder = (*handler)(nil)
	_ sftp.StatVFSFileCmder     = (*handler)(nil)
	_ sftp.LstatFileLister      = (*handler)(nil)
	_ sftp.RealPathFileLister   = (*handler)(nil)
	_ sftp.ReadlinkFileLister   = (*handler)(nil)
)

// rel maps a client path to a path relative to the root, refusing paths
// outside it.
func (h *handler) rel(p string) (string, error) {
	if !path.IsAbs(p) {
		p = path.Join(h.s.rootPath, p)
	}
	p = path.Clean(p)
	rel, err := filepath.Rel(h.s.rootPath, filepath.FromSlash(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
	}
	return rel, nil
}

// writable fails when the ReadOnly fault is set.
func (h *handler) writable(op, p string) error {
	if h.s.currentFaults().ReadOnly {
		return &fs.PathError{Op: op, Path: p, Err: syscall.EACCES}
	}
	return nil
}

// Fileread opens a file for reading.
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	h.s.hang()
	rel, err := h.rel(r.Filepath)
	if err != nil {
		return nil, err
	}
	return h.s.root.Open(rel)
}

// Filewrite opens a file for writing.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.openWrite(r, os.O_WRONLY)
}

// OpenFile opens a file for reading and writing.
func (h *handler) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	return h.openWrite(r, os.O_RDWR)
}

func (h *handler) openWrite(r *sftp.Request, flag int) (*faultFile, error) {
	h.s.hang()
	rel, err := h.rel(r.Filepath)
	if err != nil {
		return nil, err
	}
	if err := h.writable("open", r.Filepath); err != nil {
		return nil, err
	}
	pf := r.Pflags()
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	perm := fs.FileMode(0o644)
	if r.AttrFlags().Permissions {
		perm = r.Attributes().FileMode().Perm()
	}
	f, err := h.s.root.OpenFile(rel, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, s: h.s}, nil
}

// faultFile injects DiskFull and ReadOnly into writes.
type faultFile struct {
	*os.File
	s *Server
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	f.s.hang()
	faults := f.s.currentFaults()
	switch {
	case faults.DiskFull:
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	case faults.ReadOnly:
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.EACCES}
	}
	return f.File.WriteAt(b, off)
}

// Filecmd runs Setstat, Rename, Rmdir, Mkdir and Remove.
func (h *handler) Filecmd(r *sftp.Request) error {
	h.s.hang()
	rel, err := h.rel(r.Filepath)
	if err != nil {
		return err
	}
	if err := h.writable(strings.ToLower(r.Method), r.Filepath); err != nil {
		return err
	}
	root := h.s.root
	switch r.Method {
	case "Setstat":
		return h.setstat(rel, r)
	case "Rename":
		// SFTP v3 rename, as OpenSSH does it: never replaces the target.
		to, err := h.rel(r.Target)
		if err != nil {
			return err
		}
		if _, err := root.Lstat(to); err == nil {
			return &fs.PathError{Op: "rename", Path: r.Target, Err: syscall.EEXIST}
		}
		return root.Rename(rel, to)
	case "Rmdir":
		fi, err := root.Lstat(rel)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &fs.PathError{Op: "rmdir", Path: r.Filepath, Err: syscall.ENOTDIR}
		}
		return root.Remove(rel)
	case "Mkdir":
		return root.Mkdir(rel, 0o755)
	case "Remove":
		fi, err := root.Lstat(rel)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return &fs.PathError{Op: "remove", Path: r.Filepath, Err: syscall.EISDIR}
		}
		return root.Remove(rel)
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (h *handler) setstat(rel string, r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	root := h.s.root
	if flags.Size {
		f, err := root.OpenFile(rel, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Truncate(int64(attrs.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if flags.Permissions {
		if err := root.Chmod(rel, attrs.FileMode().Perm()); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		if err := root.Chtimes(rel, time.Unix(int64(attrs.Atime), 0), time.Unix(int64(attrs.Mtime), 0)); err != nil {
			return err
		}
	}
	return nil
}

// PosixRename renames, replacing the target.
func (h *handler) PosixRename(r *sftp.Request) error {
	h.s.hang()
	from, err := h.rel(r.Filepath)
	if err != nil {
		return err
	}
	to, err := h.rel(r.Target)
	if err != nil {
		return err
	}
	if err := h.writable("rename", r.Filepath); err != nil {
		return err
	}
	return h.s.root.Rename(from, to)
}

// StatVFS reports the root's file system, with no free space under DiskFull.
func (h *handler) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	h.s.hang()
	if _, err := h.rel(r.Filepath); err != nil {
		return nil, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(h.s.rootPath, &st); err != nil {
		return nil, &fs.PathError{Op: "statvfs", Path: r.Filepath, Err: err}
	}
	v := &sftp.StatVFS{
		Bsize:   uint64(st.Bsize),
		Frsize:  uint64(st.Frsize),
		Blocks:  st.Blocks,
		Bfree:   st.Bfree,
		Bavail:  st.Bavail,
		Files:   st.Files,
		Ffree:   st.Ffree,
		Favail:  st.Ffree,
		Flag:    uint64(st.Flags),
		Namemax: uint64(st.Namelen),
	}
	if h.s.currentFaults().DiskFull {
		v.Bfree, v.Bavail = 0, 0
	}
	return v, nil
}

// Filelist runs List, Stat and Readlink.
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	h.s.hang()
	rel, err := h.rel(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		d, err := h.s.root.Open(rel)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		entries, err := d.ReadDir(-1)
		if err != nil {
			return nil, err
		}
		infos := make(listerAt, 0, len(entries))
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				continue // vanished since ReadDir
			}
			infos = append(infos, fi)
		}
		return infos, nil
	case "Stat":
		fi, err := h.s.root.Stat(rel)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat stats without following a final symbolic link.
func (h *handler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	h.s.hang()
	rel, err := h.rel(r.Filepath)
	if err != nil {
		return nil, err
	}
	fi, err := h.s.root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	return listerAt{fi}, nil
}

// RealPath resolves p against the root, without following links.
func (h *handler) RealPath(p string) (string, error) {
	if !path.IsAbs(p) {
		p = path.Join(h.s.rootPath, p)
	}
	return path.Clean(p), nil
}

// Readlink returns a link's target.
func (h *handler) Readlink(p string) (string, error) {
	rel, err := h.rel(p)
	if err != nil {
		return "", err
	}
	return h.s.root.Readlink(rel)
}

type listerAt []fs.FileInfo

func (l listerAt) ListAt(dst []fs.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}
