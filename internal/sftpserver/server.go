// Package sftpserver is an in-process SSH server for tests and demos: it
// listens on 127.0.0.1, authenticates clients by public key, serves one
// directory over SFTP (github.com/pkg/sftp's request server, with the
// posix-rename@openssh.com and statvfs@openssh.com extensions), runs exec
// requests with /bin/sh unless it is SFTP-only, and can inject faults
// (missing posix-rename, dropped or stalled connections, a server that never
// speaks, a full disk, a read-only target).
//
// Paths are the host's own paths, confined to the served root: a client sees
// the root at Server.Root(), like a user whose files live in that directory
// on a real server, and every path outside it is refused. Symbolic links
// inside the root cannot lead out of it (os.Root).
package sftpserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Faults are the faults the Server injects. They can be changed while it runs
// with Server.SetFaults.
type Faults struct {
	ConnFaults

	// NoPosixRename leaves posix-rename@openssh.com out of the extensions the
	// SFTP server announces.
	NoPosixRename bool
	// DiskFull makes every write fail with ENOSPC and statvfs report no free
	// space.
	DiskFull bool
	// ReadOnly makes every change (create, write, setstat, rename, mkdir,
	// remove) fail with permission denied, like a target directory the user
	// cannot write.
	ReadOnly bool
	// HangRequests makes SFTP requests block until the fault is cleared or
	// the server closes, while the SSH connection stays healthy (keepalives
	// are answered): an SFTP server stuck on a dead NFS mount.
	HangRequests bool
}

// Config configures a Server.
type Config struct {
	// Root is the directory served. Required; it must exist.
	Root string
	// AuthorizedKeys are the client keys accepted. Required.
	AuthorizedKeys []ssh.PublicKey
	// HostKeys are the server's host keys; when empty one ed25519 key is
	// generated.
	HostKeys []ssh.Signer
	// SFTPOnly refuses exec requests, like an internal-sftp chroot.
	SFTPOnly bool
	// Faults are the faults injected from the start.
	Faults Faults
	// Logger receives connection errors; nil discards them.
	Logger *slog.Logger
}

// Server is a running in-process SSH/SFTP server. Close it when done.
type Server struct {
	cfg      Config
	rootPath string
	root     *os.Root
	ln       net.Listener
	sshCfg   *ssh.ServerConfig
	hostKeys []ssh.PublicKey
	log      *slog.Logger

	ctx    context.Context // cancelled by Close; bounds exec'd commands
	cancel context.CancelFunc

	connFaults connFaultState
	mu         sync.Mutex
	faults     Faults
	changed    chan struct{} // closed and replaced by SetFaults
	conns      map[net.Conn]struct{}
	closed     bool
	wg         sync.WaitGroup
}

// Start starts a server on 127.0.0.1 with a free port.
func Start(cfg Config) (*Server, error) {
	if cfg.Root == "" {
		return nil, errors.New("sftpserver: Config.Root is required")
	}
	if len(cfg.AuthorizedKeys) == 0 {
		return nil, errors.New("sftpserver: Config.AuthorizedKeys is required")
	}
	rootPath, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: root %s: %w", cfg.Root, err)
	}
	rootPath, err = filepath.EvalSymlinks(rootPath)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: root %s: %w", cfg.Root, err)
	}
	root, err := os.OpenRoot(rootPath)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: open root: %w", err)
	}
	if len(cfg.HostKeys) == 0 {
		signer, err := GenerateSigner()
		if err != nil {
			root.Close()
			return nil, err
		}
		cfg.HostKeys = []ssh.Signer{signer}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		rootPath: rootPath,
		root:     root,
		log:      log,
		faults:   cfg.Faults,
		changed:  make(chan struct{}),
		conns:    make(map[net.Conn]struct{}),
	}
	s.connFaults.set(cfg.Faults.ConnFaults)
	s.sshCfg = &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	for _, k := range cfg.HostKeys {
		s.sshCfg.AddHostKey(k)
		s.hostKeys = append(s.hostKeys, k.PublicKey())
	}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("sftpserver: listen: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the server's address, 127.0.0.1:PORT.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Root is the absolute path of the served directory, as clients see it.
func (s *Server) Root() string { return s.rootPath }

// HostKeys are the server's public host keys.
func (s *Server) HostKeys() []ssh.PublicKey { return s.hostKeys }

// KnownHostsLine is the known_hosts line (one per host key, newline
// separated, no trailing newline) for the server's address.
func (s *Server) KnownHostsLine() string {
	lines := make([]string, 0, len(s.hostKeys))
	for _, k := range s.hostKeys {
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, k))
	}
	return strings.Join(lines, "\n")
}

// SetFaults replaces the injected faults. Connection faults apply to
// connections accepted afterwards; the others take effect at once.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.connFaults.set(f.ConnFaults)
}

// hang blocks while the HangRequests fault is set.
func (s *Server) hang() {
	for {
		s.mu.Lock()
		hang, changed := s.faults.HangRequests, s.changed
		s.mu.Unlock()
		if !hang {
			return
		}
		select {
		case <-changed:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Close stops the server, closes every connection, stops running commands and
// waits for all its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.root.Close()
	return err
}

func (s *Server) checkKey(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	for _, k := range s.cfg.AuthorizedKeys {
		if k.Type() == key.Type() && string(k.Marshal()) == string(key.Marshal()) {
			return &ssh.Permissions{}, nil
		}
	}
	return nil, errors.New("sftpserver: key not authorized")
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		fc := newFaultConn(c, s.connFaults.next())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[fc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(fc)
	}
}

func (s *Server) serveConn(c *faultConn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	if c.f.NeverSpeak {
		io.Copy(io.Discard, c) // until the client or Close gives up
		return
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.sshCfg)
	if err != nil {
		s.log.Debug("sftpserver: handshake", "remote", c.RemoteAddr(), "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs) // keepalives get a "false" reply
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.serveSession(ch, creqs)
	}
}

func (s *Server) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil {
				req.Reply(false, nil)
				continue
			}
			env = append(env, kv.Name+"="+kv.Value)
			req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if s.cfg.SFTPOnly || ssh.Unmarshal(req.Payload, &cmd) != nil {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			s.drain(reqs)
			s.exec(ch, cmd.Command, env)
			return
		case "subsystem":
			var sub struct{ Name string }
			if ssh.Unmarshal(req.Payload, &sub) != nil || sub.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			s.drain(reqs)
			s.serveSFTP(ch)
			return
		default:
			req.Reply(false, nil)
		}
	}
}

// drain answers the channel's remaining requests until it closes.
func (s *Server) drain(reqs <-chan *ssh.Request) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
}

func (s *Server) exec(ch ssh.Channel, command string, env []string) {
	cmd := exec.CommandContext(s.ctx, "/bin/sh", "-c", command)
	// Close stops the command's whole process group, and does not wait
	// long for a child that kept the output open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	cmd.Dir = s.rootPath
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	status := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			status = ee.ExitCode()
		} else {
			fmt.Fprintf(ch.Stderr(), "sftpserver: %v\n", err)
			status = 255
		}
	}
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	ch.CloseWrite()
}

func (s *Server) serveSFTP(ch ssh.Channel) {
	var rwc io.ReadWriteCloser = ch
	if s.currentFaults().NoPosixRename {
		rwc = &extensionFilter{ReadWriteCloser: ch, drop: "posix-rename@openssh.com"}
	}
	h := &handler{s: s}
	rs := sftp.NewRequestServer(rwc, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h},
		sftp.WithStartDirectory(s.rootPath))
	if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("sftpserver: sftp session", "err", err)
	}
	rs.Close()
}

// extensionFilter removes one extension from the SFTP version packet, the
// first packet the server sends.
type extensionFilter struct {
	io.ReadWriteCloser
	drop string

	mu   sync.Mutex
	done bool
	buf  []byte
}

func (f *extensionFilter) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.ReadWriteCloser.Write(b)
	}
	f.buf = append(f.buf, b...)
	if len(f.buf) < 4 {
		return len(b), nil
	}
	size := int(binary.BigEndian.Uint32(f.buf))
	if len(f.buf) < 4+size {
		return len(b), nil
	}
	pkt, rest := f.buf[4:4+size], f.buf[4+size:]
	out := rewriteVersion(pkt, f.drop)
	out = append(out, rest...)
	f.done, f.buf = true, nil
	if _, err := f.ReadWriteCloser.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// rewriteVersion returns the length-prefixed packet pkt (type, version,
// extension pairs) without the extension named drop.
func rewriteVersion(pkt []byte, drop string) []byte {
	const fxpVersion = 2
	if len(pkt) < 5 || pkt[0] != fxpVersion {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(pkt))), pkt...) // not expected: pass through
	}
	out := append([]byte{}, pkt[:5]...)
	rest := pkt[5:]
	readString := func() (string, bool) {
		if len(rest) < 4 {
			return "", false
		}
		n := int(binary.BigEndian.Uint32(rest))
		if len(rest) < 4+n {
			return "", false
		}
		v := string(rest[4 : 4+n])
		rest = rest[4+n:]
		return v, true
	}
	for {
		name, ok := readString()
		if !ok {
			break
		}
		data, ok := readString()
		if !ok {
			break
		}
		if name == drop {
			continue
		}
		for _, v := range []string{name, data} {
			out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
			out = append(out, v...)
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(out))), out...)
}

// GenerateSigner returns a new ed25519 key.
func GenerateSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: generate key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: generate key: %w", err)
	}
	return signer, nil
}

// WriteKey generates an ed25519 key pair, writes its private half in
// OpenSSH format to path (mode 0600) and its public half to path+".pub", and
// returns the public key. Use it for client keys (authorize the returned key)
// and for an OpenSSH sshd's host key.
func WriteKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "peoplesync")
	if err != nil {
		return nil, fmt.Errorf("sftpserver: marshal key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: public key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("sftpserver: write key: %w", err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		return nil, fmt.Errorf("sftpserver: write key: %w", err)
	}
	return sshPub, nil
}
