package testpeer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
)

// SSHDConfig configures an OpenSSH sshd started by StartSSHD.
type SSHDConfig struct {
	// Dir is a scratch directory for the keys, configuration and known_hosts
	// file. Required.
	Dir string
	// Ports is how many loopback ports the sshd listens on (default 1): one
	// sshd can stand in for several servers.
	Ports int
	// SFTPOnlyChroot, when set, adds one more port on which sessions are
	// chrooted to this directory and forced into internal-sftp (no shell
	// commands), like an SFTP-only server. sshd requires every component of
	// the path to be root-owned and not writable by group or others.
	SFTPOnlyChroot string
}

// SSHD is a running OpenSSH sshd on 127.0.0.1, accepting one generated
// client key for the current user.
type SSHD struct {
	// Addrs are the 127.0.0.1:PORT addresses of the ordinary ports.
	Addrs []string
	// SFTPOnlyAddr is the chrooted SFTP-only port's address, if configured.
	SFTPOnlyAddr string
	// KnownHosts is a known_hosts file listing the host key for every port.
	KnownHosts string
	// HostKey is the sshd's host key.
	HostKey ssh.PublicKey
	// IdentityFile is the client's private key.
	IdentityFile string
	// User is the login name (the current user).
	User string

	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	once   sync.Once
}

// FindSSHD returns the path of the sshd binary.
func FindSSHD() (string, error) {
	if p, err := exec.LookPath("sshd"); err == nil {
		return filepath.Abs(p)
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("sshd not found in PATH, /usr/sbin or /usr/local/sbin (apt-get install openssh-server)")
}

// CheckChroot reports why dir cannot be an sshd ChrootDirectory, or nil.
func CheckChroot(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%s must be owned by root and not writable by group or others (is %v, uid %d)", p, fi.Mode().Perm(), st.Uid)
		}
		if p == "/" {
			return nil
		}
	}
}

// StartSSHD starts sshd in the foreground as a child process and waits
// until every port answers with an SSH banner. Close it when done.
func StartSSHD(cfg SSHDConfig) (*SSHD, error) {
	bin, err := FindSSHD()
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("testpeer: SSHDConfig.Dir is required")
	}
	if cfg.Ports <= 0 {
		cfg.Ports = 1
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("testpeer: current user: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
			return nil, fmt.Errorf("testpeer: %w", err)
		}
	}
	hostKeyFile := filepath.Join(cfg.Dir, "ssh_host_ed25519_key")
	hostKey, err := sftpserver.WriteKey(hostKeyFile)
	if err != nil {
		return nil, err
	}
	idFile := filepath.Join(cfg.Dir, "id_ed25519")
	clientKey, err := sftpserver.WriteKey(idFile)
	if err != nil {
		return nil, err
	}
	authKeys := filepath.Join(cfg.Dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientKey), 0o600); err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}

	n := cfg.Ports
	if cfg.SFTPOnlyChroot != "" {
		n++
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var conf strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&conf, "Port %d\n", p)
	}
	fmt.Fprintf(&conf, `ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
MaxStartups 100
MaxSessions 100
`, hostKeyFile, filepath.Join(cfg.Dir, "sshd.pid"), authKeys)
	s := &SSHD{HostKey: hostKey, IdentityFile: idFile, User: u.Username, log: &syncBuffer{}, exited: make(chan struct{})}
	var known strings.Builder
	for i, p := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if i < cfg.Ports {
			s.Addrs = append(s.Addrs, addr)
		} else {
			s.SFTPOnlyAddr = addr
			fmt.Fprintf(&conf, "Match LocalPort %d\n\tChrootDirectory %s\n\tForceCommand internal-sftp\n", p, cfg.SFTPOnlyChroot)
		}
		known.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey) + "\n")
	}
	confFile := filepath.Join(cfg.Dir, "sshd_config")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}
	s.KnownHosts = filepath.Join(cfg.Dir, "known_hosts")
	if err := os.WriteFile(s.KnownHosts, []byte(known.String()), 0o600); err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}

	s.cmd = exec.Command(bin, "-D", "-e", "-f", confFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Close stops the session processes too
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testpeer: start sshd: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range ports {
		if err := s.waitBanner(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), deadline); err != nil {
			s.Close()
			return nil, fmt.Errorf("testpeer: sshd on port %d: %w; log:\n%s", p, err, s.log.String())
		}
	}
	return s, nil
}

// waitBanner polls addr until it sends an SSH banner.
func (s *SSHD) waitBanner(addr string, deadline time.Time) error {
	for {
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4)
			_, err = c.Read(buf)
			c.Close()
			if err == nil && string(buf) == "SSH-" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SSH banner before the deadline: %v", err)
		}
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Log returns what sshd logged.
func (s *SSHD) Log() string { return s.log.String() }

// Close stops sshd and its session processes.
func (s *SSHD) Close() error {
	s.once.Do(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	})
	return nil
}

// StartSSHDForTest starts sshd for a test (see StartSSHD), with its scratch
// directory under tb.TempDir unless cfg.Dir is set, and stops it when the test
// ends. A missing sshd skips the test (fails it under CI=true).
func StartSSHDForTest(tb testing.TB, cfg SSHDConfig) *SSHD {
	tb.Helper()
	if _, err := FindSSHD(); err != nil {
		Missing(tb, "OpenSSH sshd", err.Error())
	}
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	s, err := StartSSHD(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testpeer: free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
