package systemd_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/internal/testpeer"
	"github.com/peoplesync/peoplesync/systemd"
)

// readUnit returns a unit file's directives as section -> key -> values.
func readUnit(t *testing.T, name string) map[string]map[string][]string {
	t.Helper()
	data, err := fs.ReadFile(systemd.Units(), name)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a directive: %q", name, n, line)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	return unit
}

func TestUnitDirectives(t *testing.T) {
	type want struct{ section, key, value string }
	hardening := []want{
		{"Service", "User", "peoplesync"},
		{"Service", "StateDirectory", "peoplesync"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ReadWritePaths", "/LocalLibrary/Images/People"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateDevices", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "ProtectKernelLogs", "yes"},
		{"Service", "ProtectControlGroups", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"Service", "RestrictNamespaces", "yes"},
		{"Service", "LockPersonality", "yes"},
		{"Service", "MemoryDenyWriteExecute", "yes"},
		{"Service", "RestrictRealtime", "yes"},
		{"Service", "SystemCallFilter", "@system-service"},
		{"Service", "CapabilityBoundingSet", ""},
	}
	tests := map[string][]want{
		"peoplesync.service": append([]want{
			{"Service", "Type", "notify"},
			{"Service", "ExecStart", systemd.BinaryPath + " daemon"},
			{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
			{"Service", "Restart", "on-failure"},
			{"Service", "WatchdogSec", "3min"},
			{"Install", "WantedBy", "multi-user.target"},
		}, hardening...),
		"peoplesync-once.service": append([]want{
			{"Service", "Type", "oneshot"},
			{"Service", "ExecStart", systemd.BinaryPath + " run-once"},
		}, hardening...),
		"peoplesync.timer": {
			{"Timer", "OnCalendar", "*-*-* 02:00:00"},
			{"Timer", "Persistent", "true"},
			{"Timer", "RandomizedDelaySec", "10min"},
			{"Timer", "Unit", "peoplesync-once.service"},
			{"Install", "WantedBy", "timers.target"},
		},
	}
	for _, name := range systemd.UnitNames() {
		t.Run(name, func(t *testing.T) {
			unit := readUnit(t, name)
			for _, w := range tests[name] {
				got := unit[w.section][w.key]
				if len(got) != 1 || got[0] != w.value {
					t.Errorf("[%s] %s = %q, want exactly %q", w.section, w.key, got, w.value)
				}
			}
			if _, ok := unit["Service"]["DynamicUser"]; ok {
				t.Errorf("DynamicUser set: the service needs a fixed user that owns its SSH keys")
			}
		})
	}
}

// verify runs systemd-analyze verify on unit files copied to a temporary
// directory, with ExecStart pointing at a binary that exists, and returns
// its output and exit error.
func verify(t *testing.T, analyze string, edit func(name, text string) string) (stdout, stderr string, err error) {
	t.Helper()
	bin, exeErr := os.Executable()
	if exeErr != nil {
		t.Fatal(exeErr)
	}
	dir := t.TempDir()
	var paths []string
	for _, name := range systemd.UnitNames() {
		data, err := fs.ReadFile(systemd.Units(), name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if strings.Contains(text, "ExecStart=") {
			if !strings.Contains(text, "ExecStart="+systemd.BinaryPath+" ") {
				t.Fatalf("%s: ExecStart does not run %s", name, systemd.BinaryPath)
			}
			text = strings.ReplaceAll(text, "ExecStart="+systemd.BinaryPath+" ", "ExecStart="+bin+" ")
		}
		if edit != nil {
			text = edit(name, text)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func TestUnitsVerify(t *testing.T) {
	analyze := testpeer.LookPath(t, "systemd-analyze", "systemd-analyze")
	stdout, stderr, err := verify(t, analyze, nil)
	if err != nil || stderr != "" {
		t.Fatalf("systemd-analyze verify: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}

	// The check is not vacuous: an unknown key only warns, with exit 0,
	// and the test sees it.
	_, stderr, err = verify(t, analyze, func(name, text string) string {
		if name != "peoplesync.service" {
			return text
		}
		return strings.Replace(text, "ProtectSystem=strict", "ProtectSytem=strict", 1)
	})
	if !strings.Contains(stderr, "Unknown key") {
		t.Fatalf("a misspelt key went unnoticed: err %v, stderr %q", err, stderr)
	}
}
