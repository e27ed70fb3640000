package sftpserver

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	srv    *Server
	signer ssh.Signer
	kh     ssh.HostKeyCallback
}

func start(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id")
	pub, err := WriteKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Root: root, AuthorizedKeys: []ssh.PublicKey{pub}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	khFile := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khFile, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kh, err := knownhosts.New(khFile)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, signer: signer, kh: kh}
}

func (f *fixture) dial(t *testing.T, addr string) (*ssh.Client, error) {
	t.Helper()
	if addr == "" {
		addr = f.srv.Addr()
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	sc, chans, reqs, err := ssh.NewClientConn(c, f.srv.Addr(), &ssh.ClientConfig{
		User:            "test",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(f.signer)},
		HostKeyCallback: f.kh,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, nil
}

func (f *fixture) sftp(t *testing.T) *sftp.Client {
	t.Helper()
	c, err := f.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSFTPConfinedToRoot(t *testing.T) {
	f := start(t, nil)
	c := f.sftp(t)
	root := f.srv.Root()
	if _, ok := c.HasExtension("posix-rename@openssh.com"); !ok {
		t.Error("posix-rename not announced")
	}
	w, err := c.Create(root + "/a")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	w.Close()
	if b, _ := os.ReadFile(filepath.Join(root, "a")); string(b) != "hello" {
		t.Errorf("a = %q", b)
	}
	if wd, _ := c.Getwd(); wd != root {
		t.Errorf("working directory %q, want the root %q", wd, root)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/passwd", root + "/../x", "escape/passwd"} {
		if _, err := c.Open(p); err == nil {
			t.Errorf("opened %s outside the root", p)
		}
	}
	// PosixRename replaces; Rename does not.
	w, _ = c.Create(root + "/b")
	w.Close()
	if err := c.Rename(root+"/b", root+"/a"); err == nil {
		t.Error("SFTP v3 rename replaced the target")
	}
	if err := c.PosixRename(root+"/b", root+"/a"); err != nil {
		t.Error(err)
	}
}

func TestFaults(t *testing.T) {
	t.Run("no posix-rename", func(t *testing.T) {
		f := start(t, func(c *Config) { c.Faults.NoPosixRename = true })
		c := f.sftp(t)
		if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
			t.Error("posix-rename announced")
		}
		if _, ok := c.HasExtension("statvfs@openssh.com"); !ok {
			t.Error("other extensions must stay")
		}
	})
	t.Run("disk full", func(t *testing.T) {
		f := start(t, nil)
		c := f.sftp(t)
		f.srv.SetFaults(Faults{DiskFull: true})
		w, err := c.Create(f.srv.Root() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Write([]byte("data")); err == nil || !strings.Contains(err.Error(), "no space") {
			t.Errorf("write on a full disk: %v", err)
		}
		if st, err := c.StatVFS(f.srv.Root()); err != nil || st.Bavail != 0 {
			t.Errorf("statvfs on a full disk: %+v %v", st, err)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		f := start(t, func(c *Config) { c.Faults.ReadOnly = true })
		c := f.sftp(t)
		if _, err := c.Create(f.srv.Root() + "/x"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("create on a read-only target: %v", err)
		}
		if err := c.Mkdir(f.srv.Root() + "/d"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("mkdir on a read-only target: %v", err)
		}
	})
	t.Run("never speaks", func(t *testing.T) {
		f := start(t, func(c *Config) { c.Faults.NeverSpeak = true })
		c, err := net.Dial("tcp", f.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read %d bytes, %v: want nothing", n, err)
		}
	})
	t.Run("drop after bytes, first connection only", func(t *testing.T) {
		f := start(t, func(c *Config) { c.Faults.ConnFaults = ConnFaults{DropAfterBytes: 100_000, Connections: 1} })
		c := f.sftp(t)
		w, err := c.Create(f.srv.Root() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.ReadFrom(bytes.NewReader(make([]byte, 1<<20)))
		if err == nil {
			err = w.Close()
		}
		if err == nil {
			t.Error("1 MiB written over a connection dropped after 100 kB")
		}
		f.sftp(t) // the second connection works
	})
	t.Run("stall after bytes", func(t *testing.T) {
		f := start(t, func(c *Config) { c.Faults.StallAfterBytes = 50_000 })
		c := f.sftp(t)
		w, err := c.Create(f.srv.Root() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := w.ReadFrom(bytes.NewReader(make([]byte, 1<<20)))
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("write finished on a stalled connection: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		f.srv.Close() // unblocks everything
		<-done
	})
}

func TestExec(t *testing.T) {
	f := start(t, nil)
	c, err := f.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv("FILES", "a:b"); err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput(`echo "$FILES $(pwd -P)"; exit 4`)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 4 {
		t.Errorf("exit: %v, want status 4", err)
	}
	if want := "a:b " + f.srv.Root() + "\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}

	g := start(t, func(c *Config) { c.SFTPOnly = true })
	c, err = g.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Run("true"); err == nil {
		t.Error("an SFTP-only server ran a command")
	}
}

func TestProxy(t *testing.T) {
	f := start(t, nil)
	p, err := NewProxy(f.srv.Addr(), ConnFaults{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := f.dial(t, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	s, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Create(f.srv.Root() + "/via-proxy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(make([]byte, 300_000))); err != nil {
		t.Fatal(err)
	}
	w.Close()

	p.SetFaults(ConnFaults{DropAfterBytes: 10})
	if _, err := f.dial(t, p.Addr()); err == nil {
		t.Error("handshake through a proxy dropping after 10 bytes succeeded")
	}
}
