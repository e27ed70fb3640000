package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootRefusesServiceUsersStateDir: root running run-once or the daemon
// in a state directory that belongs to the service user is refused with
// exit 2 and what to run instead, before anything is written there; in its
// own state directory it runs.
func TestRootRefusesServiceUsersStateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check is about root writing into another user's state directory")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "passwd"), "root:*:0:1::0:0:Operator:/:/bin/csh\n")
	writeFile(t, filepath.Join(dir, "aliases"), "staff: root\n")
	conf := filepath.Join(dir, "peoplesync.toml")
	writeFile(t, conf, "state_dir = \"state\"\n[source]\nkind = \"files\"\npasswd = \"passwd\"\naliases = \"aliases\"\n[people]\ndir = \"People\"\n")
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run-once", "maildb"}, {"daemon"}} {
		cmd := exec.Command(exe(t, "peoplesync"), append([]string{"--config", conf}, args...)...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "state_dir "+state+" belongs to user ") || !strings.Contains(string(out), "sudo -u ") {
			t.Errorf("%v as root in another user's state_dir: %v\n%s", args, err, out)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("refused runs wrote into the state directory: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "People")); !os.IsNotExist(err) {
		t.Errorf("a refused run made the People directory: %v", err)
	}

	if err := os.Chown(state, 0, 0); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe(t, "peoplesync"), "--config", conf, "run-once", "maildb").CombinedOutput()
	if err != nil {
		t.Errorf("run-once in root's own state_dir: %v\n%s", err, out)
	}
}
