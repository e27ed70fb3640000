package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
	"github.com/peoplesync/peoplesync/internal/testpeer"
)

// syncSite is a People master and servers to sync it to, with a config.
type syncSite struct {
	t      *testing.T
	dir    string
	config string
	paths  map[string]string // server name -> its People directory
}

func (s *syncSite) run(args ...string) (string, int) {
	s.t.Helper()
	cmd := exec.Command(exe(s.t, "peoplesync"), append([]string{"--config", s.config}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func newSyncSite(t *testing.T, servers map[string]string, ssh string) *syncSite {
	dir := t.TempDir()
	s := &syncSite{t: t, dir: dir, config: filepath.Join(dir, "peoplesync.toml"), paths: map[string]string{}}
	writeFile(t, filepath.Join(dir, "passwd"), "root:$1$hash:0:1::0:0:Operator:/:/bin/csh\njnewberg:$1$x:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh\n")
	writeFile(t, filepath.Join(dir, "aliases"), "jnewberg: jnewberg@earth\nstaff: jnewberg@earth,root\n")
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = \"state\"\n[source]\nkind = \"files\"\npasswd = \"passwd\"\naliases = \"aliases\"\n[people]\ndir = \"People\"\n%s\n", ssh)
	for _, name := range []string{"earth", "venus"} {
		addr, ok := servers[name]
		if !ok {
			continue
		}
		path := filepath.Join(dir, "servers", name, "People")
		s.paths[name] = path
		fmt.Fprintf(&b, "[[server]]\nname = %q\naddress = %q\npath = %q\n", name, addr, path)
	}
	b.WriteString("[[sync.special]]\nmatch = \"aliases\"\ncommand = \"echo rebuilt $FILES\"\n")
	writeFile(t, s.config, b.String())
	return s
}

// The pipeline through the binary: run-once maildb then sync, plan, and
// check --connect, against the in-process SFTP servers.
func TestSyncCLIInProcess(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	pub, err := sftpserver.WriteKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var known strings.Builder
	servers := map[string]string{}
	for _, name := range []string{"earth", "venus"} {
		srv, err := sftpserver.Start(sftpserver.Config{Root: "/", AuthorizedKeys: []ssh.PublicKey{pub}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		known.WriteString(srv.KnownHostsLine() + "\n")
		servers[name] = srv.Addr()
	}
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, known.String())
	s := newSyncSite(t, servers, fmt.Sprintf("[ssh]\nuser = \"peoplesync\"\nidentity_file = %q\nknown_hosts = %q\n", key, kh))
	testSyncCLI(t, s)
}

// The same against a real OpenSSH sshd (skipped with a reason when sshd is
// missing; a failure under CI=true).
func TestSyncCLIRealSSHD(t *testing.T) {
	d := testpeer.StartSSHDForTest(t, testpeer.SSHDConfig{Ports: 2})
	s := newSyncSite(t, map[string]string{"earth": d.Addrs[0], "venus": d.Addrs[1]},
		fmt.Sprintf("[ssh]\nuser = %q\nidentity_file = %q\nknown_hosts = %q\n", d.User, d.IdentityFile, d.KnownHosts))
	testSyncCLI(t, s)
}

func testSyncCLI(t *testing.T, s *syncSite) {
	out, code := s.run("check", "--connect")
	if code != 0 || !strings.Contains(out, "earth") || !strings.Contains(out, "venus") || strings.Contains(out, "FAILED") {
		t.Fatalf("check --connect: exit %d\n%s", code, out)
	}

	// Nothing to plan before maildb made the People directory: sync refuses
	// an empty or missing master rather than wiping the servers.
	out, code = s.run("plan")
	if code != 1 || !strings.Contains(out, "People") {
		t.Errorf("plan with no People directory: exit %d\n%s", code, out)
	}

	out, code = s.run("run-once")
	if code != 0 {
		t.Fatalf("run-once: exit %d\n%s", code, out)
	}
	for name, p := range s.paths {
		b, err := os.ReadFile(filepath.Join(p, "aliases"))
		if err != nil || string(b) != "staff: jnewberg,root\n" {
			t.Errorf("%s aliases: %q, %v", name, b, err)
		}
		if b, _ := os.ReadFile(filepath.Join(p, "passwd")); strings.Contains(string(b), "$1$") {
			t.Errorf("%s: password hashes reached the server", name)
		}
	}
	if !strings.Contains(out, `special "echo rebuilt`) || !strings.Contains(out, "FILES=aliases exit 0") {
		t.Errorf("run-once did not report the special:\n%s", out)
	}

	// A change shows in plan, one line per change, and plan changes nothing.
	writeFile(t, filepath.Join(s.dir, "aliases"), "jnewberg: jnewberg@earth\nstaff: jnewberg@earth,root\npostmaster: root\n")
	if out, code = s.run("run-once", "maildb"); code != 0 {
		t.Fatalf("maildb: %d\n%s", code, out)
	}
	out, code = s.run("plan")
	if code != 0 || !strings.Contains(out, "earth: >f") || !strings.Contains(out, " aliases") || !strings.Contains(out, "!special") {
		t.Errorf("plan: exit %d\n%s", code, out)
	}
	for name, p := range s.paths {
		if b, _ := os.ReadFile(filepath.Join(p, "aliases")); strings.Contains(string(b), "postmaster") {
			t.Errorf("plan changed %s", name)
		}
	}
	out, code = s.run("run-once", "sync")
	if code != 0 || !strings.Contains(out, "sent 1 file(s)") {
		t.Errorf("sync: exit %d\n%s", code, out)
	}
	out, code = s.run("run-once", "sync")
	if code != 0 || !strings.Contains(out, "sent 0 file(s)") || strings.Contains(out, `special "`) {
		t.Errorf("second sync: exit %d\n%s", code, out)
	}

	// A special that fails is owed to the next run, which runs it with
	// nothing to send, and then it is owed no more.
	conf, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.config, strings.Replace(string(conf), `echo rebuilt $FILES"`, `echo rebuilt $FILES; exit 3"`, 1))
	writeFile(t, filepath.Join(s.dir, "aliases"), "staff: root\npostmaster: root\n")
	if out, code = s.run("run-once"); code != 1 || !strings.Contains(out, "exited with status 3") {
		t.Fatalf("failing special: exit %d\n%s", code, out)
	}
	owed := filepath.Join(s.dir, "state", "pending-specials", "earth.json")
	if b, err := os.ReadFile(owed); err != nil || !strings.Contains(string(b), `"aliases"`) {
		t.Fatalf("owed special record %s: %q, %v", owed, b, err)
	}
	writeFile(t, s.config, string(conf))
	out, code = s.run("run-once", "sync")
	if code != 0 || !strings.Contains(out, "sent 0 file(s)") || !strings.Contains(out, "FILES=aliases exit 0") {
		t.Errorf("sync owing a special: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(owed); !os.IsNotExist(err) {
		t.Errorf("owed special record still there after the special ran: %v", err)
	}
}

// A host key that changed fails that host with how to check it, exit 1;
// the other host is still updated.
func TestSyncCLIChangedHostKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	pub, _ := sftpserver.WriteKey(key)
	var known strings.Builder
	servers := map[string]string{}
	for _, name := range []string{"earth", "venus"} {
		srv, err := sftpserver.Start(sftpserver.Config{Root: "/", AuthorizedKeys: []ssh.PublicKey{pub}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		line := srv.KnownHostsLine()
		if name == "venus" {
			// venus's entry holds some other key.
			other, err := sftpserver.Start(sftpserver.Config{Root: "/", AuthorizedKeys: []ssh.PublicKey{pub}})
			if err != nil {
				t.Fatal(err)
			}
			line = strings.Replace(other.KnownHostsLine(), other.Addr(), srv.Addr(), 1)
			other.Close()
		}
		known.WriteString(line + "\n")
		servers[name] = srv.Addr()
	}
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, known.String())
	s := newSyncSite(t, servers, fmt.Sprintf("[ssh]\nuser = \"peoplesync\"\nidentity_file = %q\nknown_hosts = %q\n", key, kh))
	out, code := s.run("run-once")
	if code != 1 || !strings.Contains(out, "venus") || !strings.Contains(out, "ssh-keyscan") {
		t.Fatalf("changed host key: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(s.paths["earth"], "aliases")); err != nil {
		t.Errorf("earth was not updated although only venus failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.paths["venus"], "aliases")); err == nil {
		t.Error("venus was written to despite its changed host key")
	}
}
