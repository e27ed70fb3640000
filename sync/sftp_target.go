package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

const (
	// sftpMaxPacket is the largest write packet every server accepts.
	sftpMaxPacket = 32 * 1024
	// sftpRequestsPerFile bounds the write requests in flight for one file.
	sftpRequestsPerFile = 64
	// listConcurrency bounds the directories read at once.
	listConcurrency = 8
	// stRdOnly is statvfs's ST_RDONLY flag.
	stRdOnly = 0x1
)

// sftpTarget is a directory on a server, reached over SFTP.
type sftpTarget struct {
	host string // for messages: name or address
	root string // remote path of the tree
	conn *sshConn
	c    *sftp.Client
	log  *slog.Logger
	bufs gosync.Pool // *[]byte of sftpMaxPacket bytes, for small files
	dog  *watchdog
}

var _ Target = (*sftpTarget)(nil)

// Dial connects to host over SSH and SFTP and returns its Path as a Target.
// The host key is verified against opts.SSH.KnownHosts; the connection is
// closed when ctx is done. It fails with ErrNoPosixRename when the server
// cannot replace files atomically. Close the Target when done.
func Dial(ctx context.Context, host Host, opts Options, log *slog.Logger) (Target, error) {
	hk, err := loadHostKeys(opts.SSH.KnownHosts)
	if err != nil {
		return nil, err
	}
	t, err := dialTarget(ctx, host, opts, hk, &signerCache{}, log)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func dialTarget(ctx context.Context, h Host, opts Options, hk *hostKeys, signers *signerCache, log *slog.Logger) (*sftpTarget, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if h.Path == "" {
		return nil, permanent(fmt.Errorf("host %s: no target path configured", h.label()))
	}
	dc := dialConfig{
		address:  h.address(),
		user:     firstNonEmpty(h.User, opts.SSH.User),
		identity: firstNonEmpty(h.IdentityFile, opts.SSH.IdentityFile),
		opts:     opts.SSH,
		hostKeys: hk,
		signers:  signers,
	}
	conn, err := dialSSH(ctx, dc)
	if err != nil {
		return nil, err
	}
	c, err := startSFTP(conn)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &dialError{stageSFTP, fmt.Errorf("start SFTP on %s: %w (is the sftp subsystem enabled?)", dc.address, err)}
	}
	conn.ready()
	t := &sftpTarget{host: h.label(), root: path.Clean(h.Path), conn: conn, c: c, log: log}
	t.dog = newWatchdog(dc.opts.ioTimeout(), conn.conn.abort)
	if _, ok := c.HasExtension("posix-rename@openssh.com"); !ok {
		t.Close()
		return nil, &dialError{stagePosixRename, permanent(fmt.Errorf("%s: %w: files cannot be replaced atomically, and peoplesync never "+
			"deletes a file to rename over it; use OpenSSH's sftp-server or another server with posix-rename", dc.address, ErrNoPosixRename))}
	}
	return t, nil
}

// startSFTP starts an SFTP session on conn whose requests are batched into
// as few SSH packets as possible (channelWriter).
func startSFTP(conn *sshConn) (*sftp.Client, error) {
	s, err := conn.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		return nil, err
	}
	c, err := sftp.NewClientPipe(r, &sessionWriter{newChannelWriter(w), s},
		sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(sftpRequestsPerFile),
		sftp.MaxPacketChecked(sftpMaxPacket),
	)
	if err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// sessionWriter closes the SFTP session with its input.
type sessionWriter struct {
	*channelWriter
	s *ssh.Session
}

func (w *sessionWriter) Close() error {
	err := w.channelWriter.Close()
	w.s.Close()
	return err
}

const (
	stageSFTP        dialStage = "sftp"
	stagePosixRename dialStage = "posix-rename"
)

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (t *sftpTarget) abs(rel string) string { return path.Join(t.root, rel) }

// wrap adds the operation and remote path to err and classifies it: a
// failure the server does not explain (OpenSSH reports ENOSPC and EROFS as
// plain "Failure") is checked against statvfs.
func (t *sftpTarget) wrap(op, p string, err error) error {
	return t.wrapNeed(op, p, 0, err)
}

// lowSpace: a file system with less free space than this plus what was
// being written is taken as full when a write fails without a reason.
const lowSpace = 1 << 20

// wrapNeed is wrap for an operation that needed need bytes of space.
func (t *sftpTarget) wrapNeed(op, p string, need int64, err error) error {
	if err == nil {
		return nil
	}
	if isConnectionError(err) {
		// Say why the connection failed (an io timeout, say), not just that
		// it did.
		if cause := t.conn.conn.firstErr(); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", err, cause)
		}
	}
	var se *sftp.StatusError
	if errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxFailure {
		msg := strings.ToLower(err.Error())
		switch {
		case strings.Contains(msg, "no space left"):
			err = fmt.Errorf("%w: %v", ErrNoSpace, err)
		case strings.Contains(msg, "read-only file system"):
			err = fmt.Errorf("%w: %v", ErrReadOnly, err)
		default:
			if st, serr := t.c.StatVFS(path.Dir(p)); serr == nil {
				switch {
				case st.Flag&stRdOnly != 0:
					err = fmt.Errorf("%w: %v", ErrReadOnly, err)
				case st.Frsize*st.Bavail < uint64(need)+lowSpace || st.Files > 0 && st.Favail == 0:
					err = fmt.Errorf("%w (%d bytes free): %v", ErrNoSpace, st.Frsize*st.Bavail, err)
				}
			}
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		err = fmt.Errorf("%w (does the SSH user have write access there?)", err)
	}
	return fmt.Errorf("%s %s:%s: %w", op, t.host, p, err)
}

// List reads the tree, several directories at once.
func (t *sftpTarget) List(ctx context.Context) ([]Entry, error) {
	defer t.dog.begin()()
	fi, err := t.c.Stat(t.root) // the root may be a link; nothing below is followed
	if err != nil {
		return nil, t.wrap("stat", t.root, err)
	}
	if !fi.IsDir() {
		return nil, permanent(fmt.Errorf("list %s:%s: not a directory", t.host, t.root))
	}
	var (
		mu      gosync.Mutex
		entries []Entry
		first   error
		wg      gosync.WaitGroup
		sem     = make(chan struct{}, listConcurrency)
	)
	var readDir func(rel string)
	readDir = func(rel string) {
		defer wg.Done()
		sem <- struct{}{}
		infos, err := t.c.ReadDirContext(ctx, t.abs(rel))
		<-sem
		t.dog.progress()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if first == nil {
				first = t.wrap("list", t.abs(rel), err)
			}
			return
		}
		for _, fi := range infos {
			name := fi.Name()
			if name == "." || name == ".." {
				continue
			}
			e := Entry{Path: path.Join(rel, name), Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
			entries = append(entries, e)
			if e.IsDir() {
				wg.Add(1)
				go readDir(e.Path)
			}
		}
	}
	wg.Add(1)
	go readDir(".")
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// path.Join(".", name) is name: paths are relative already.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}

// Open opens a remote file; reading it uses concurrent requests (WriteTo).
func (t *sftpTarget) Open(ctx context.Context, rel string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	end := t.dog.begin()
	f, err := t.c.Open(t.abs(rel))
	if err != nil {
		end()
		return nil, t.wrap("open", t.abs(rel), err)
	}
	return &remoteFile{f: f, dog: t.dog, end: end}, nil
}

// remoteFile is an open remote file whose reads count as progress.
type remoteFile struct {
	f    *sftp.File
	dog  *watchdog
	end  func()
	once gosync.Once
}

func (r *remoteFile) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	r.dog.progress()
	return n, err
}

// WriteTo reads with concurrent requests (io.Copy uses it).
func (r *remoteFile) WriteTo(w io.Writer) (int64, error) {
	return r.f.WriteTo(&progressWriter{wr: w, w: r.dog})
}

func (r *remoteFile) Close() error {
	r.once.Do(r.end)
	return r.f.Close()
}

// tempName returns a fresh temporary name for a file named base.
// The file is created with O_EXCL, so the random part only needs to make
// collisions unlikely, not be unguessable.
func tempName(base string) string {
	if len(base) > 100 {
		base = base[:100]
	}
	return fmt.Sprintf("%s%s.%012x", TempPrefix, base, rand.Uint64()&(1<<48-1))
}

// Install uploads to a temporary file, verifies its size, sets mode and
// mtime and renames it into place with posix-rename.
func (t *sftpTarget) Install(ctx context.Context, rel string, r io.Reader, meta FileMeta) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer t.dog.begin()()
	r = &progressReader{r: r, w: t.dog}
	dst := t.abs(rel)
	tmp := path.Join(path.Dir(dst), tempName(path.Base(dst)))
	f, err := t.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return t.wrap("create", tmp, err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			if rerr := t.c.Remove(tmp); rerr != nil && !isConnectionError(rerr) {
				t.log.Warn("remove temporary file after a failed install", "server", t.host, "file", tmp, "err", rerr)
			}
		}
	}()
	switch {
	case meta.Size == 0:
	case meta.Size <= sftpMaxPacket:
		// One write request, without ReadFrom's goroutines.
		bp, _ := t.bufs.Get().(*[]byte)
		if bp == nil {
			b := make([]byte, sftpMaxPacket)
			bp = &b
		}
		defer t.bufs.Put(bp)
		buf := (*bp)[:meta.Size]
		if n, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("send %s: read %d of %d bytes: %w", rel, n, meta.Size, ErrSourceChanged)
			}
			return fmt.Errorf("send %s: %w", rel, err)
		}
		if _, err := f.Write(buf); err != nil {
			return t.wrapNeed("write", tmp, meta.Size, err)
		}
	default:
		// One request per 32 KiB, up to 64 in flight; the reader has no
		// Len/Size/Stat, so the concurrency is given explicitly.
		conc := int(min(meta.Size/sftpMaxPacket+1, sftpRequestsPerFile))
		n, err := f.ReadFromWithConcurrency(io.LimitReader(r, meta.Size), conc)
		if err != nil {
			return t.wrapNeed("write", tmp, meta.Size, err)
		}
		if n != meta.Size {
			return fmt.Errorf("send %s: read %d of %d bytes: %w", rel, n, meta.Size, ErrSourceChanged)
		}
	}
	// Write errors can go unreported (and concurrent writes can leave the
	// file longer than sent): check what the server has.
	fi, err := f.Stat()
	if err != nil {
		return t.wrap("stat", tmp, err)
	}
	if fi.Size() != meta.Size {
		return t.wrap("verify", tmp, fmt.Errorf("server has %d bytes, %d were sent", fi.Size(), meta.Size))
	}
	if fi.Mode().Perm() != meta.Mode.Perm() { // usually right already: the server's umask
		if err := f.Chmod(meta.Mode.Perm()); err != nil {
			return t.wrap("chmod", tmp, err)
		}
	}
	closed = true
	if err := f.Close(); err != nil {
		return t.wrapNeed("close", tmp, meta.Size, err)
	}
	if err := t.c.Chtimes(tmp, time.Now(), meta.ModTime); err != nil {
		return t.wrap("set mtime", tmp, err)
	}
	if err := t.c.PosixRename(tmp, dst); err != nil {
		return t.wrap("rename", tmp+" to "+dst, err)
	}
	return nil
}

// Mkdir creates rel and its missing parents.
func (t *sftpTarget) Mkdir(ctx context.Context, rel string, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer t.dog.begin()()
	p := t.abs(rel)
	if fi, err := t.c.Lstat(p); err == nil && fi.IsDir() {
		return nil
	}
	if err := t.c.MkdirAll(p); err != nil {
		return t.wrap("mkdir", p, err)
	}
	if err := t.c.Chmod(p, perm.Perm()); err != nil {
		return t.wrap("chmod", p, err)
	}
	return nil
}

// Remove removes a file, link or empty directory.
func (t *sftpTarget) Remove(ctx context.Context, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer t.dog.begin()()
	p := t.abs(rel)
	if err := t.c.Remove(p); err != nil {
		return t.wrap("remove", p, err)
	}
	return nil
}

// execMarker is printed first by every command Run sends: a server that
// forces every session into internal-sftp (ForceCommand internal-sftp) does
// not print it, although it reports success.
const execMarker = "peoplesync-exec-ok"

// Run runs command on the server, in the target's root, with env exported.
// The command line is sent to the user's login shell, which must be
// POSIX-compatible.
func (t *sftpTarget) Run(ctx context.Context, command string, env map[string]string) (RunResult, error) {
	if err := ctx.Err(); err != nil {
		return RunResult{}, err
	}
	var line strings.Builder
	fmt.Fprintf(&line, "echo %s && cd %s && ", execMarker, shellQuote(t.root))
	keys := make([]string, 0, len(env))
	for k := range env {
		if !validEnvName(k) {
			return RunResult{}, permanent(fmt.Errorf("run on %s: invalid environment variable name %q", t.host, k))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&line, "%s=%s && export %s && ", k, shellQuote(env[k]), k)
	}
	line.WriteString("exec /bin/sh -c " + shellQuote(command))

	s, err := t.conn.NewSession()
	if err != nil {
		return RunResult{}, t.wrapRun(command, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &progressWriter{wr: &stdout, w: t.dog}, &progressWriter{wr: &stderr, w: t.dog}
	end := t.dog.begin()
	err = s.Run(line.String())
	end()
	if ctx.Err() != nil {
		return RunResult{}, ctx.Err()
	}
	out, marked := bytes.CutPrefix(stdout.Bytes(), []byte(execMarker+"\n"))
	res := RunResult{Output: append(out, stderr.Bytes()...)}
	var ee *ssh.ExitError
	switch {
	case err == nil && !marked:
		return res, t.wrapRun(command, fmt.Errorf("%w (ForceCommand internal-sftp?): the command did not run", ErrNoExec))
	case errors.As(err, &ee):
		if !marked {
			return res, t.wrapRun(command, fmt.Errorf("%w: the shell did not start (exit status %d): %s", ErrNoExec, ee.ExitStatus(), bytes.TrimSpace(res.Output)))
		}
		res.ExitStatus = ee.ExitStatus()
		return res, nil
	case err != nil:
		var oe *net.OpError
		if !errors.As(err, &oe) && strings.Contains(err.Error(), "failed") {
			// The server refused the exec request.
			err = fmt.Errorf("%w (%v)", ErrNoExec, err)
		}
		return res, t.wrapRun(command, err)
	}
	return res, nil
}

func (t *sftpTarget) wrapRun(command string, err error) error {
	if cause := t.conn.conn.firstErr(); cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", err, cause) // the connection failed: say why
	}
	return fmt.Errorf("run %q on %s: %w", command, t.host, err)
}

// Close ends the SFTP session and the connection.
func (t *sftpTarget) Close() error {
	t.dog.stop()
	err := t.conn.Close() // first: unblocks a session write waiting for the window
	t.c.Close()
	return err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && (i == 0 || !('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}
