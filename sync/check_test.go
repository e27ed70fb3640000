package sync

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
)

func stepNames(r CheckResult) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestCheck(t *testing.T) {
	all := []string{CheckConnect, CheckHostKey, CheckAuth, CheckSFTP, CheckPosixRename, CheckWritable}
	eachServer(t, func(t *testing.T, start func(*testing.T) *peer) {
		p := start(t)
		// Missing target directory: passes, with a note.
		res := Check(context.Background(), []Host{p.host}, p.opts())
		if len(res) != 1 || res[0].Err != nil || !slices.Equal(stepNames(res[0]), all) {
			t.Fatalf("Check = %+v, want every step passed", res)
		}
		if res[0].Steps[5].Detail == "" {
			t.Error("a missing target directory must be noted")
		}
		must(t, os.MkdirAll(p.dir, 0o755))
		res = Check(context.Background(), []Host{p.host}, p.opts())
		if res[0].Err != nil {
			t.Fatalf("Check = %v", res[0].Err)
		}
		if tmp := tempFiles(t, p.dir); len(tmp) != 0 {
			t.Errorf("Check left %v", tmp)
		}
		opts := p.opts()
		opts.Specials = []Special{{Match: "aliases", Command: "newaliases"}}
		if res = Check(context.Background(), []Host{p.host}, opts); res[0].Err != nil || !slices.Equal(stepNames(res[0]), append(all, CheckExec)) {
			t.Errorf("Check with specials = %+v", res[0])
		}
	})
}

func TestCheckFailures(t *testing.T) {
	failsAt := func(t *testing.T, r CheckResult, step string, target error) {
		t.Helper()
		last := r.Steps[len(r.Steps)-1]
		if r.Err == nil || last.Name != step || last.Err == nil || (target != nil && !errors.Is(r.Err, target)) {
			t.Errorf("Check = %+v, want a failure at %q (%v)", r, step, target)
		}
	}
	t.Run("no posix-rename", func(t *testing.T) {
		p := newInProcessPeer(t, func(c *sftpserver.Config) { c.Faults.NoPosixRename = true })
		failsAt(t, Check(context.Background(), []Host{p.host}, p.opts())[0], CheckPosixRename, ErrNoPosixRename)
	})
	t.Run("unknown host key", func(t *testing.T) {
		p := newInProcessPeer(t, nil)
		must(t, os.WriteFile(p.ssh.KnownHosts, nil, 0o600))
		failsAt(t, Check(context.Background(), []Host{p.host}, p.opts())[0], CheckHostKey, ErrHostKeyUnknown)
	})
	t.Run("auth", func(t *testing.T) {
		p := newInProcessPeer(t, nil)
		stranger := filepath.Join(t.TempDir(), "id")
		_, err := sftpserver.WriteKey(stranger)
		must(t, err)
		p.host.IdentityFile = stranger
		failsAt(t, Check(context.Background(), []Host{p.host}, p.opts())[0], CheckAuth, ErrAuth)
	})
	t.Run("host down", func(t *testing.T) {
		p := newInProcessPeer(t, nil)
		p.srv.Close()
		failsAt(t, Check(context.Background(), []Host{p.host}, p.opts())[0], CheckConnect, nil)
	})
	t.Run("read-only", func(t *testing.T) {
		p := newInProcessPeer(t, func(c *sftpserver.Config) { c.Faults.ReadOnly = true })
		must(t, os.MkdirAll(p.dir, 0o755))
		failsAt(t, Check(context.Background(), []Host{p.host}, p.opts())[0], CheckWritable, nil)
	})
	t.Run("sftp-only with specials", func(t *testing.T) {
		p := newInProcessPeer(t, func(c *sftpserver.Config) { c.SFTPOnly = true })
		opts := p.opts()
		opts.Specials = []Special{{Match: "aliases", Command: "newaliases"}}
		failsAt(t, Check(context.Background(), []Host{p.host}, opts)[0], CheckExec, ErrNoExec)
	})
	t.Run("sshd chroot with specials", func(t *testing.T) {
		p := newChrootPeer(t)
		opts := p.opts()
		opts.Specials = []Special{{Match: "aliases", Command: "newaliases"}}
		failsAt(t, Check(context.Background(), []Host{p.host}, opts)[0], CheckExec, ErrNoExec)
	})
}

// TestNoInsecureHostKey: host keys are always verified; nothing outside
// tests may turn verification off.
func TestNoInsecureHostKey(t *testing.T) {
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "InsecureIgnore"+"HostKey") {
			t.Errorf("%s turns host key verification off", p)
		}
		return nil
	})
	must(t, err)
}
