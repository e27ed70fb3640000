package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/internal/testpeer"
)

// journaldScript runs a real systemd-journald in a private mount namespace
// (a tmpfs over /run, so the host's journal is neither seen nor touched),
// runs peoplesync under it with stderr marked as the journal's stream the
// way systemd marks it (JOURNAL_STREAM=DEVICE:INODE), then prints what the
// journal holds as JSON, one entry a line.
const journaldScript = `set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal /run/log/journal
"$JOURNALD" 2>"$WORK/journald.err" &
jpid=$!
trap 'kill $jpid 2>/dev/null || true' EXIT
i=0
while [ ! -S /run/systemd/journal/socket ]; do
	i=$((i+1)); [ $i -lt 100 ] || { echo "journald did not start" >&2; cat "$WORK/journald.err" >&2; exit 1; }
	sleep 0.05
done
exec 3>"$WORK/stderr"
stream=$(stat -L -c '%d:%i' "$WORK/stderr")
JOURNAL_STREAM=$stream "$PEOPLESYNC" --config "$WORK/ok.toml" run-once maildb >>"$WORK/stdout" 2>&3 || true
JOURNAL_STREAM=$stream "$PEOPLESYNC" --config "$WORK/bad.toml" run-once maildb >>"$WORK/stdout" 2>&3 || true
journalctl --directory=/run/log/journal --sync 2>/dev/null || true
journalctl --directory=/run/log/journal -o json --no-pager
`

// TestJournaldNative: under a real journald, log lines arrive as native
// journal entries with the job and run as fields, the level as PRIORITY,
// and nothing is written to stderr.
func TestJournaldNative(t *testing.T) {
	const peer = "systemd-journald"
	if os.Geteuid() != 0 {
		t.Skip("running a journald in a private mount namespace needs root; the field names are unit-tested")
	}
	journald := "/lib/systemd/systemd-journald"
	if _, err := os.Stat(journald); err != nil {
		testpeer.Missing(t, peer, err.Error()+" (apt-get install systemd)")
	}
	unshare := testpeer.LookPath(t, peer, "unshare")
	testpeer.LookPath(t, peer, "journalctl")

	work := t.TempDir()
	writeFile(t, filepath.Join(work, "passwd"), "root:*:0:1::0:0:Operator:/:/bin/csh\n")
	writeFile(t, filepath.Join(work, "aliases"), "staff: root\n")
	for name, source := range map[string]string{
		"ok.toml":  `kind = "files"` + "\npasswd = \"passwd\"\naliases = \"aliases\"",
		"bad.toml": `kind = "files"` + "\npasswd = \"missing-passwd\"\naliases = \"aliases\"",
	} {
		writeFile(t, filepath.Join(work, name), fmt.Sprintf("state_dir = \"state\"\n[source]\n%s\n[people]\ndir = \"People\"\n", source))
	}
	cmd := exec.Command(unshare, "--mount", "sh", "-c", journaldScript)
	cmd.Env = append(os.Environ(), "JOURNALD="+journald, "WORK="+work, "PEOPLESYNC="+exe(t, "peoplesync"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "unshare failed") || strings.Contains(stderr.String(), "Operation not permitted") {
			// A platform limit (a container without CAP_SYS_ADMIN), not a
			// missing peer, as for the sync tests' small tmpfs.
			t.Skipf("no private mount namespace here (%s); the field names are unit-tested", strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	var ours []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journalctl -o json: %v: %s", err, sc.Text())
		}
		if e["_TRANSPORT"] == "journal" {
			ours = append(ours, e)
		}
	}
	find := func(msg string) map[string]any {
		for _, e := range ours {
			if e["MESSAGE"] == msg {
				return e
			}
		}
		t.Fatalf("no journal entry %q among %d native ones:\n%s", msg, len(ours), out)
		return nil
	}
	ok := find("job succeeded")
	if ok["JOB"] != "maildb" || ok["RUN_ID"] == nil || ok["RUN_ID"] == "" || ok["PRIORITY"] != "6" {
		t.Errorf("job succeeded entry: JOB=%v RUN_ID=%v PRIORITY=%v, want maildb, an id, 6", ok["JOB"], ok["RUN_ID"], ok["PRIORITY"])
	}
	bad := find("job failed")
	if bad["JOB"] != "maildb" || bad["PRIORITY"] != "3" || !strings.Contains(fmt.Sprint(bad["ERR"]), "missing-passwd") {
		t.Errorf("job failed entry: JOB=%v PRIORITY=%v ERR=%v, want maildb, 3 and the missing file", bad["JOB"], bad["PRIORITY"], bad["ERR"])
	}
	if b, _ := os.ReadFile(filepath.Join(work, "stderr")); strings.Contains(string(b), "level=") {
		t.Errorf("log lines went to stderr as text as well:\n%s", b)
	}
}
