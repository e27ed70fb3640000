package sync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
)

// faultTrees returns an old and a new version of a tree big enough for a
// fault to hit mid-transfer: every file changes size and content.
func faultTrees() (old, new tree) {
	old, new = randomTree(40, 48_000, 1), randomTree(40, 64_000, 2)
	old["aliases"] = strings.Repeat("old alias line\n", 10_000)
	new["aliases"] = strings.Repeat("new alias line, longer\n", 20_000)
	return old, new
}

// faultSetup syncs the old tree to p, then writes the new one to src: a
// faulty sync may leave each server file old or new, never anything else.
func faultSetup(t *testing.T, p *peer) (src string, old, new tree) {
	t.Helper()
	old, new = faultTrees()
	src = t.TempDir()
	writeTree(t, src, old)
	mustSync(t, src, p.opts(), p.host)
	for name := range old {
		must(t, os.Remove(filepath.Join(src, name)))
	}
	writeTree(t, src, new)
	return src, old, new
}

// watchNoPartial checks the server's files on every send progress event,
// while other files are in flight.
func watchNoPartial(t *testing.T, opts *Options, dir string, allowed ...tree) {
	opts.Progress = func(p Progress) {
		if p.Phase == PhaseSend && p.FilesDone%5 == 1 {
			checkNoPartial(t, dir, allowed...)
		}
	}
}

// checkRepaired runs a clean sync and checks the server is complete and
// free of temporary files.
func checkRepaired(t *testing.T, p *peer, src string) {
	t.Helper()
	mustSync(t, src, p.opts(), p.host)
	checkSynced(t, src, p.dir)
}

func TestConnectionDroppedMidTransfer(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src, old, new := faultSetup(t, p)
		px := p.viaProxy(t, sftpserver.ConnFaults{DropAfterBytes: 1_500_000})
		opts := p.opts()
		opts.Concurrency = 4 // files complete one after the other, the drop hits between
		watchNoPartial(t, &opts, p.dir, old, new)
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if err == nil {
			t.Fatal("sync over a connection dropped mid-transfer succeeded")
		}
		if IsPermanent(err) {
			t.Errorf("a dropped connection is transient, got a permanent error: %v", err)
		}
		t.Logf("the drop hit after %d of %d files", rep.Hosts[0].FilesSent(), len(new))
		checkNoPartial(t, p.dir, old, new)
		px.SetFaults(sftpserver.ConnFaults{})
		checkRepaired(t, p, src)
	})
}

func TestTransientErrorRetried(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src, old, new := faultSetup(t, p)
	p.viaProxy(t, sftpserver.ConnFaults{DropAfterBytes: 500_000, Connections: 1})
	opts := p.opts()
	opts.Attempts = 3
	watchNoPartial(t, &opts, p.dir, old, new)
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if err != nil {
		t.Fatalf("sync with one dropped connection and 3 attempts: %v", err)
	}
	if n := rep.Hosts[0].Attempts; n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	checkSynced(t, src, p.dir)
}

func TestHostDown(t *testing.T) {
	p := newInProcessPeer(t, nil)
	p.srv.Close()
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	opts := p.opts()
	opts.Attempts = 2
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, syscall.ECONNREFUSED) || IsPermanent(err) {
		t.Fatalf("host down: %v, want a transient connection refused", err)
	}
	if rep.Hosts[0].Attempts != 2 {
		t.Errorf("%d attempts, want 2", rep.Hosts[0].Attempts)
	}
}

func TestHostNeverSpeaks(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		p.viaProxy(t, sftpserver.ConnFaults{NeverSpeak: true})
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		opts := p.opts()
		opts.SSH.ConnectTimeout = 300 * time.Millisecond
		_, err := runSync(t, context.Background(), src, opts, p.host)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("host that never speaks: %v, want a timeout", err)
		}
	})
	t.Run("inprocess-direct", func(t *testing.T) {
		p := newInProcessPeer(t, func(c *sftpserver.Config) { c.Faults.NeverSpeak = true })
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		opts := p.opts()
		opts.SSH.ConnectTimeout = 300 * time.Millisecond
		if _, err := runSync(t, context.Background(), src, opts, p.host); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("host that never speaks: %v, want a deadline error", err)
		}
	})
}

func TestStallMidTransfer(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src, old, new := faultSetup(t, p)
		px := p.viaProxy(t, sftpserver.ConnFaults{StallAfterBytes: 600_000})
		opts := p.opts()
		opts.SSH.IOTimeout = 600 * time.Millisecond
		watchNoPartial(t, &opts, p.dir, old, new)
		_, err := runSync(t, context.Background(), src, opts, p.host)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("stalled host: %v, want a timeout", err)
		}
		checkNoPartial(t, p.dir, old, new)
		px.SetFaults(sftpserver.ConnFaults{})
		checkRepaired(t, p, src)
	})
}

func TestCancelMidTransfer(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src, old, new := faultSetup(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := p.opts()
		opts.Attempts = 3
		opts.Progress = func(e Progress) {
			if e.Phase == PhaseSend && e.FilesDone >= 3 {
				cancel()
			}
		}
		rep, err := runSync(t, ctx, src, opts, p.host)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run: %v, want context.Canceled", err)
		}
		if rep.Hosts[0].Attempts != 1 {
			t.Errorf("a cancelled run was retried")
		}
		checkNoPartial(t, p.dir, old, new)
		checkRepaired(t, p, src)
	})
}

func TestHostKeyChanged(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		other, err := sftpserver.GenerateSigner()
		must(t, err)
		must(t, os.WriteFile(p.ssh.KnownHosts, nil, 0o600))
		p.appendKnownHosts(t, p.host.Address, other.PublicKey())
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		opts := p.opts()
		opts.Attempts = 3
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if !errors.Is(err, ErrHostKeyChanged) || !IsPermanent(err) {
			t.Fatalf("changed host key: %v, want permanent ErrHostKeyChanged", err)
		}
		host, port, _ := net.SplitHostPort(p.host.Address)
		if want := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, p.ssh.KnownHosts); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not tell how to add the key (%s)", err, want)
		}
		if rep.Hosts[0].Attempts != 1 {
			t.Errorf("retried a changed host key %d times", rep.Hosts[0].Attempts)
		}
		if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
			t.Error("the target was touched")
		}
	})
}

func TestHostKeyUnknown(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		must(t, os.WriteFile(p.ssh.KnownHosts, nil, 0o600))
		p.appendKnownHosts(t, "[127.0.0.1]:1", p.hostKeys...) // the right key, another host
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		_, err := runSync(t, context.Background(), src, p.opts(), p.host)
		if !errors.Is(err, ErrHostKeyUnknown) || !strings.Contains(err.Error(), "ssh-keyscan -p") {
			t.Fatalf("unknown host key: %v, want ErrHostKeyUnknown telling to use ssh-keyscan", err)
		}
		if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
			t.Error("the target was touched")
		}
	})
	t.Run("no known_hosts file", func(t *testing.T) {
		p := newInProcessPeer(t, nil)
		opts := p.opts()
		opts.SSH.KnownHosts = ""
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		if _, err := runSync(t, context.Background(), src, opts, p.host); err == nil || !IsPermanent(err) {
			t.Fatalf("no known_hosts: %v, want a permanent error", err)
		}
	})
}

// TestHostKeyAlgorithms: a server with several host key types, of which
// known_hosts lists one, must be verified with that one whatever the
// server or client prefers.
func TestHostKeyAlgorithms(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	ecSigner, err := ssh.NewSignerFromKey(ecKey)
	must(t, err)
	edSigner, err := sftpserver.GenerateSigner()
	must(t, err)
	for _, known := range []ssh.Signer{ecSigner, edSigner} {
		t.Run(known.PublicKey().Type(), func(t *testing.T) {
			p := newInProcessPeer(t, func(c *sftpserver.Config) { c.HostKeys = []ssh.Signer{ecSigner, edSigner} })
			must(t, os.WriteFile(p.ssh.KnownHosts, nil, 0o600))
			p.appendKnownHosts(t, p.host.Address, known.PublicKey())
			src := t.TempDir()
			writeTree(t, src, tree{"aliases": "a"})
			mustSync(t, src, p.opts(), p.host)
		})
	}
}

func TestAuthFailure(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		_, err := sftpserver.WriteKey(filepath.Join(t.TempDir(), "stranger"))
		must(t, err)
		opts := p.opts()
		opts.Attempts = 3
		opts.SSH.IdentityFile = ""
		p.host.IdentityFile = filepath.Join(filepath.Dir(p.ssh.KnownHosts), "..", "nope")
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a"})
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if err == nil || !IsPermanent(err) || rep.Hosts[0].Attempts != 1 {
			t.Fatalf("missing identity file: %v after %d attempts, want one permanent error", err, rep.Hosts[0].Attempts)
		}
		stranger := filepath.Join(t.TempDir(), "stranger")
		_, err = sftpserver.WriteKey(stranger)
		must(t, err)
		p.host.IdentityFile = stranger
		rep, err = runSync(t, context.Background(), src, opts, p.host)
		if !errors.Is(err, ErrAuth) || rep.Hosts[0].Attempts != 1 {
			t.Fatalf("unauthorized key: %v after %d attempts, want one ErrAuth", err, rep.Hosts[0].Attempts)
		}
	})
}

func TestDiskFull(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src, old, new := faultSetup(t, p)
	writeTree(t, p.dir, tree{"extraneous": "stays: an install failed"})
	p.srv.SetFaults(sftpserver.Faults{DiskFull: true})
	opts := p.opts()
	opts.Attempts, opts.Delete = 3, true
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, ErrNoSpace) || !IsPermanent(err) || rep.Hosts[0].Attempts != 1 {
		t.Fatalf("disk full: %v after %d attempts, want one ErrNoSpace", err, rep.Hosts[0].Attempts)
	}
	checkNoPartial(t, p.dir, old, new, tree{"extraneous": "stays: an install failed"})
	if tmp := tempFiles(t, p.dir); len(tmp) != 0 {
		t.Errorf("temporary files left after refused writes: %v", tmp)
	}
	p.srv.SetFaults(sftpserver.Faults{})
	mustSync(t, src, opts, p.host)
	checkSynced(t, src, p.dir)
}

func TestReadOnlyTarget(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src, old, new := faultSetup(t, p)
	p.srv.SetFaults(sftpserver.Faults{ReadOnly: true})
	opts := p.opts()
	opts.Attempts = 3
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, fs.ErrPermission) || !IsPermanent(err) || rep.Hosts[0].Attempts != 1 {
		t.Fatalf("read-only target: %v after %d attempts, want one permission error", err, rep.Hosts[0].Attempts)
	}
	checkNoPartial(t, p.dir, old, new)
	p.srv.SetFaults(sftpserver.Faults{})
	checkRepaired(t, p, src)
}

// mountTmpfs mounts a small tmpfs at dir, for a real sshd's disk-full and
// read-only tests; it skips when this process cannot mount.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "peoplesync-test", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the in-process server covers this fault", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v: %s", opts, err, out)
	}
}

// TestSSHDDiskFullAndReadOnly: OpenSSH reports ENOSPC and EROFS as a bare
// "Failure"; statvfs tells them apart.
func TestSSHDDiskFullAndReadOnly(t *testing.T) {
	p := newSSHDPeer(t)
	must(t, os.MkdirAll(p.dir, 0o755))
	mountTmpfs(t, p.dir, "size=16m")
	src, old, new := faultSetup(t, p)

	// Room for the old tree and a little more.
	remount(t, p.dir, "size=2600k")
	opts := p.opts()
	opts.Attempts = 3
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, ErrNoSpace) || rep.Hosts[0].Attempts != 1 {
		t.Fatalf("disk full: %v after %d attempts, want one ErrNoSpace", err, rep.Hosts[0].Attempts)
	}
	checkNoPartial(t, p.dir, old, new)
	remount(t, p.dir, "size=16m")
	checkRepaired(t, p, src)

	writeTree(t, src, tree{"aliases": "changed"})
	remount(t, p.dir, "ro")
	rep, err = runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, ErrReadOnly) || rep.Hosts[0].Attempts != 1 {
		t.Fatalf("read-only file system: %v after %d attempts, want one ErrReadOnly", err, rep.Hosts[0].Attempts)
	}
	remount(t, p.dir, "rw")
	checkRepaired(t, p, src)
}

func TestNoPosixRename(t *testing.T) {
	p := newInProcessPeer(t, func(c *sftpserver.Config) { c.Faults.NoPosixRename = true })
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	opts := p.opts()
	opts.Attempts = 3
	rep, err := runSync(t, context.Background(), src, opts, p.host)
	if !errors.Is(err, ErrNoPosixRename) || rep.Hosts[0].Attempts != 1 {
		t.Fatalf("no posix-rename: %v after %d attempts, want one ErrNoPosixRename", err, rep.Hosts[0].Attempts)
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Error("the target was touched")
	}
}

func TestLocalFileVanishes(t *testing.T) {
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		src := t.TempDir()
		writeTree(t, src, tree{"aliases": "a", "passwd": "p"})
		mustSync(t, src, p.opts(), p.host)
		writeTree(t, p.dir, tree{"extraneous": "e"})
		writeTree(t, src, tree{"aliases": "a2", "passwd": "p2", "vanishing": "v"})

		opts := p.opts()
		opts.Delete = true
		removed := false
		opts.Progress = func(e Progress) {
			// The source was scanned before connecting: the file vanishes
			// between listing and sending.
			if e.Phase == PhaseConnect && !removed {
				must(t, os.Remove(filepath.Join(src, "vanishing")))
				removed = true
			}
		}
		rep, err := runSync(t, context.Background(), src, opts, p.host)
		if err != nil {
			t.Fatalf("a vanished local file must not fail the host: %v", err)
		}
		h := rep.Hosts[0]
		if !slices.Equal(h.Vanished, []string{"vanishing"}) || h.FilesSent() != 2 || h.Deleted != 0 {
			t.Errorf("report %+v: want vanishing vanished, 2 files sent, deletions skipped", h)
		}
		got := readTree(t, p.dir)
		if _, ok := got["vanishing"]; ok || got["extraneous"] != "e" || got["aliases"] != "a2" {
			t.Errorf("server has %v", keys(got))
		}
		opts.Progress = nil
		mustSync(t, src, opts, p.host)
		checkSynced(t, src, p.dir) // extraneous deleted now
	})
}

// TestSFTPServerHangs: the SSH connection stays healthy (keepalives are
// answered) while the SFTP server hangs mid-transfer; the host must fail
// within the io timeout all the same.
func TestSFTPServerHangs(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src, old, new := faultSetup(t, p)
	opts := p.opts()
	opts.SSH.IOTimeout = 500 * time.Millisecond
	opts.Concurrency = 4
	opts.Progress = func(e Progress) {
		if e.Phase == PhaseSend && e.FilesDone == 3 {
			p.srv.SetFaults(sftpserver.Faults{HangRequests: true})
		}
	}
	_, err := runSync(t, context.Background(), src, opts, p.host)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || IsPermanent(err) {
		t.Fatalf("hung SFTP server: %v, want a transient timeout", err)
	}
	p.srv.SetFaults(sftpserver.Faults{})
	checkNoPartial(t, p.dir, old, new)
	checkRepaired(t, p, src)
}

func TestSpecialHangs(t *testing.T) {
	p := newInProcessPeer(t, nil)
	src := t.TempDir()
	writeTree(t, src, tree{"aliases": "a"})
	opts := p.opts()
	opts.SSH.IOTimeout = 500 * time.Millisecond
	opts.Specials = []Special{{Match: "aliases", Command: "sleep 60"}}
	_, err := runSync(t, context.Background(), src, opts, p.host)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("special silent for longer than the io timeout: %v, want a timeout", err)
	}
	if !strings.Contains(err.Error(), "specials NOT run") {
		t.Errorf("error %q must say the special did not complete", err)
	}
}
