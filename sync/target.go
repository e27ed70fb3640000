// Package sync pushes the People directory to the mail servers the way rdist
// does, over SSH/SFTP: every changed file is uploaded to a temporary name in
// its own directory, checked, given its mode and mtime and renamed into
// place, so a reader on a server never sees half a file. Extraneous files
// can be deleted (with limits), and commands ("specials") run on a server
// after matching files changed there.
//
// Importers alias the package, since it shadows the standard library's name:
//
//	import fssync "github.com/peoplesync/peoplesync/sync"
//
// Run does the push to many hosts, Check tests the connection to each, and
// Target is the interface to one place the tree is installed (a directory
// on a server over SFTP, or a local directory).
package sync

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"
)

// TempPrefix starts the name of every temporary file Install creates. Files
// with this prefix on a target are leftovers of an interrupted install; the
// next Run removes them. Source files with this prefix are skipped.
const TempPrefix = ".peoplesync-tmp-"

// ErrNoExec is returned by Target.Run when the target cannot run commands,
// such as a server that allows only SFTP (an internal-sftp chroot).
var ErrNoExec = errors.New("server allows only SFTP, it runs no commands")

// Entry describes one file, directory or other object in a Target.
type Entry struct {
	// Path is slash-separated and relative to the target's root, never "."
	// or starting with "/".
	Path string
	// Size in bytes; meaningful for regular files only.
	Size int64
	// Mode holds the type bits and the permission bits. Symbolic links have
	// fs.ModeSymlink; they are never followed.
	Mode fs.FileMode
	// ModTime is the modification time, in whole seconds on SFTP targets.
	ModTime time.Time
}

// IsDir reports whether e is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// IsRegular reports whether e is a regular file.
func (e Entry) IsRegular() bool { return e.Mode.IsRegular() }

// IsTemp reports whether e is a temporary file left by Install.
func (e Entry) IsTemp() bool {
	i := strings.LastIndexByte(e.Path, '/')
	return strings.HasPrefix(e.Path[i+1:], TempPrefix)
}

// FileMeta is what Install gives the installed file.
type FileMeta struct {
	// Size is the exact number of bytes the reader yields.
	Size int64
	// Mode's permission bits (Mode.Perm()) are set on the file.
	Mode fs.FileMode
	// ModTime is set as the file's mtime, in whole seconds.
	ModTime time.Time
}

// RunResult is the outcome of a command run by Target.Run.
type RunResult struct {
	// ExitStatus is the command's exit status (0: success).
	ExitStatus int
	// Output is the command's standard output followed by its standard
	// error.
	Output []byte
}

// Target is one place the People tree is installed: a directory on a server
// reached over SFTP, or a local directory. Paths given to its methods are
// slash-separated and relative to the target's root ("." is the root);
// they must not contain ".." elements. A Target is safe for concurrent use
// by multiple goroutines. Every method returns promptly with an error once
// ctx is done or the target has failed (a lost connection, say); such errors
// leave at most temporary files (TempPrefix) behind.
type Target interface {
	// List returns every entry below the root, recursively, in no particular
	// order, without the root itself. Symbolic links are listed, not
	// followed. When the root does not exist, the error satisfies
	// errors.Is(err, fs.ErrNotExist).
	List(ctx context.Context) ([]Entry, error)

	// Open opens the regular file rel for reading.
	Open(ctx context.Context, rel string) (io.ReadCloser, error)

	// Install atomically replaces (or creates) the file rel with exactly
	// meta.Size bytes read from r, with the permission bits of meta.Mode and
	// the mtime meta.ModTime. Its directory must exist. The data goes to a
	// temporary file (TempPrefix) in the same directory, its size is
	// verified, then it is renamed over rel: rel is never seen partially
	// written, and on any error it is left as it was. If r yields fewer
	// bytes than meta.Size, Install fails. Install removes its temporary
	// file after an error when it still can.
	Install(ctx context.Context, rel string, r io.Reader, meta FileMeta) error

	// Mkdir creates the directory rel with permission bits perm, and any
	// missing parents. An existing directory is not an error. Mkdir(".")
	// creates the root itself.
	Mkdir(ctx context.Context, rel string, perm fs.FileMode) error

	// Remove removes the file, symbolic link or empty directory rel.
	Remove(ctx context.Context, rel string) error

	// Run runs command with /bin/sh (or the user's shell) where the target
	// lives, in the root directory, with env added to its environment. A
	// command that ran and exited non-zero is reported in the result's
	// ExitStatus, not as an error. Targets that cannot run commands return
	// an error wrapping ErrNoExec.
	Run(ctx context.Context, command string, env map[string]string) (RunResult, error)

	// Close releases the target's resources (its connection). Using the
	// target afterwards is an error.
	Close() error
}
