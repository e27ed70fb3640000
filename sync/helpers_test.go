package sync

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
	"github.com/peoplesync/peoplesync/internal/testpeer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// peer is a server under test with a host entry and options to reach it,
// and the target directory as seen on this machine.
type peer struct {
	host     Host
	ssh      SSHOptions
	dir      string // the target directory on this machine
	hostKeys []ssh.PublicKey
	srv      *sftpserver.Server // nil for a real sshd
	sshd     *testpeer.SSHD     // nil for the in-process server
}

// opts returns options for p with quick retries and one attempt.
func (p *peer) opts() Options {
	return Options{SSH: p.ssh, Attempts: 1, RetryDelay: 10 * time.Millisecond}
}

// server starts a kind of peer.
type server struct {
	name  string
	start func(t *testing.T) *peer
}

var (
	inProcess = server{"inprocess", func(t *testing.T) *peer { return newInProcessPeer(t, nil) }}
	realSSHD  = server{"sshd", newSSHDPeer}
)

// eachServer runs f against the in-process server and a real sshd.
func eachServer(t *testing.T, f func(t *testing.T, start func(*testing.T) *peer)) {
	for _, s := range []server{inProcess, realSSHD} {
		t.Run(s.name, func(t *testing.T) { f(t, s.start) })
	}
}

// newInProcessPeer starts an in-process server; mod may adjust its config.
func newInProcessPeer(t *testing.T, mod func(*sftpserver.Config)) *peer {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "srv")
	must(t, os.Mkdir(root, 0o755))
	key := filepath.Join(base, "id_ed25519")
	pub, err := sftpserver.WriteKey(key)
	must(t, err)
	cfg := sftpserver.Config{Root: root, AuthorizedKeys: []ssh.PublicKey{pub}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := sftpserver.Start(cfg)
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	kh := filepath.Join(base, "known_hosts")
	must(t, os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600))
	dir := filepath.Join(srv.Root(), "people")
	return &peer{
		host:     Host{Name: "inproc", Address: srv.Addr(), User: "peoplesync", Path: dir},
		ssh:      SSHOptions{KnownHosts: kh, IdentityFile: key, ConnectTimeout: 5 * time.Second, IOTimeout: 10 * time.Second},
		dir:      dir,
		hostKeys: srv.HostKeys(),
		srv:      srv,
	}
}

// newSSHDPeer starts a real OpenSSH sshd (skipping, or failing under CI,
// when there is none).
func newSSHDPeer(t *testing.T) *peer {
	t.Helper()
	s := testpeer.StartSSHDForTest(t, testpeer.SSHDConfig{})
	dir := filepath.Join(t.TempDir(), "people")
	return &peer{
		host:     Host{Name: "sshd", Address: s.Addrs[0], User: s.User, Path: dir},
		ssh:      SSHOptions{KnownHosts: s.KnownHosts, IdentityFile: s.IdentityFile, ConnectTimeout: 5 * time.Second, IOTimeout: 10 * time.Second},
		dir:      dir,
		hostKeys: []ssh.PublicKey{s.HostKey},
		sshd:     s,
	}
}

// viaProxy puts a fault-injecting proxy in front of p and points p at it.
func (p *peer) viaProxy(t *testing.T, f sftpserver.ConnFaults) *sftpserver.Proxy {
	t.Helper()
	px, err := sftpserver.NewProxy(p.host.Address, f)
	must(t, err)
	t.Cleanup(func() { px.Close() })
	p.host.Address = px.Addr()
	p.appendKnownHosts(t, px.Addr(), p.hostKeys...)
	return px
}

// appendKnownHosts adds keys for addr to p's known_hosts file.
func (p *peer) appendKnownHosts(t *testing.T, addr string, keys ...ssh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(p.ssh.KnownHosts, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	for _, k := range keys {
		_, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, k))
		must(t, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// baseTime is the mtime source files get, a second apart per file.
var baseTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// tree is file contents by relative path.
type tree map[string]string

// writeTree writes files under dir with distinct fixed mtimes.
func writeTree(t testing.TB, dir string, files tree) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(files[n]), 0o644))
		mt := baseTime.Add(time.Duration(i) * time.Second)
		must(t, os.Chtimes(p, mt, mt))
	}
}

// randomTree returns n files of size bytes each, named fNNN.bin.
func randomTree(n, size int, seed uint64) tree {
	r := rand.New(rand.NewPCG(seed, 1))
	files := tree{}
	for i := range n {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[fmt.Sprintf("f%03d.bin", i)] = string(b)
	}
	return files
}

// readTree returns the regular files under dir (temporary files included),
// or an empty tree when dir does not exist.
func readTree(t testing.TB, dir string) tree {
	t.Helper()
	out := tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) {
				return nil // renamed or removed just now
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	must(t, err)
	return out
}

// tempFiles lists temporary files under dir.
func tempFiles(t testing.TB, dir string) []string {
	var out []string
	for p := range readTree(t, dir) {
		if (Entry{Path: p}).IsTemp() {
			out = append(out, p)
		}
	}
	return out
}

// checkNoPartial fails if any non-temporary file under dir differs from
// every allowed version of it: a reader saw a partial or wrong file.
func checkNoPartial(t testing.TB, dir string, allowed ...tree) {
	t.Helper()
	for p, got := range readTree(t, dir) {
		if (Entry{Path: p}).IsTemp() {
			continue
		}
		ok := false
		for _, a := range allowed {
			if want, exists := a[p]; exists && want == got {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s on the server: %d bytes matching no version of it (partial file visible)", p, len(got))
		}
	}
}

// checkSynced fails unless dst holds exactly src's files with src's content,
// permission bits and mtimes (seconds), and no temporary files.
func checkSynced(t testing.TB, src, dst string) {
	t.Helper()
	want, got := readTree(t, src), readTree(t, dst)
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing on the server", p)
			continue
		case g != w:
			t.Errorf("%s differs on the server (%d bytes, want %d)", p, len(g), len(w))
		}
		ls, err1 := os.Lstat(filepath.Join(src, p))
		rs, err2 := os.Lstat(filepath.Join(dst, p))
		must(t, err1)
		must(t, err2)
		if ls.Mode().Perm() != rs.Mode().Perm() || ls.ModTime().Unix() != rs.ModTime().Unix() {
			t.Errorf("%s: server has mode %v mtime %v, want %v %v", p, rs.Mode().Perm(), rs.ModTime(), ls.Mode().Perm(), ls.ModTime())
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s on the server but not in the source", p)
		}
	}
}

// runSync runs a sync of src to the hosts and returns the report.
func runSync(t testing.TB, ctx context.Context, src string, opts Options, hosts ...Host) (*Report, error) {
	t.Helper()
	return Run(ctx, src, hosts, opts, testLogger(t))
}

// mustSync runs a sync that must succeed.
func mustSync(t testing.TB, src string, opts Options, hosts ...Host) *Report {
	t.Helper()
	rep, err := runSync(t, context.Background(), src, opts, hosts...)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return rep
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
