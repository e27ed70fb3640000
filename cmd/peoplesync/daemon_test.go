package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// daemonProc is `peoplesync daemon` running as a child process, with its
// JSON log and the sd_notify messages it sent.
type daemonProc struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	notify *net.UnixConn
	done   chan error

	mu     sync.Mutex
	logs   []map[string]any
	states []string
}

// exe is the test binary under the name testscript.Main runs main for.
func exe(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func startDaemon(t *testing.T, config string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "peoplesync.toml"), config)
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{t: t, dir: dir, notify: conn, done: make(chan error, 1)}
	d.cmd = exec.Command(exe(t, "peoplesync-test"), "--config", filepath.Join(dir, "peoplesync.toml"), "--log-format", "json", "daemon")
	d.cmd.Dir = dir
	d.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000")
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.readLogs(stderr)
	go d.readNotify()
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		conn.Close()
		if t.Failed() {
			d.dump()
		}
	})
	return d
}

func (d *daemonProc) readLogs(r interface{ Read([]byte) (int, error) }) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var m map[string]any
		if json.Unmarshal(s.Bytes(), &m) != nil {
			m = map[string]any{"msg": "non-JSON: " + s.Text()}
		}
		d.mu.Lock()
		d.logs = append(d.logs, m)
		d.mu.Unlock()
	}
}

func (d *daemonProc) readNotify() {
	buf := make([]byte, 4096)
	for {
		n, err := d.notify.Read(buf)
		if err != nil {
			return
		}
		d.mu.Lock()
		d.states = append(d.states, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		d.mu.Unlock()
	}
}

func (d *daemonProc) dump() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.logs {
		d.t.Logf("log: %v", l)
	}
	d.t.Logf("notify: %q", d.states)
}

// waitFor polls cond until it holds or the deadline passes.
func (d *daemonProc) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case err := <-d.done:
			d.done <- err
			d.t.Fatalf("daemon exited (%v) while waiting for %s", err, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// countLogs counts log records with msg and the given attribute values.
func (d *daemonProc) countLogs(msg string, kv ...string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
next:
	for _, l := range d.logs {
		if l["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(l[kv[i]]) != kv[i+1] {
				continue next
			}
		}
		n++
	}
	return n
}

// notified reports the index of the first notify message with prefix at or
// after from, or -1.
func (d *daemonProc) notified(prefix string, from int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := from; i < len(d.states); i++ {
		if strings.HasPrefix(d.states[i], prefix) {
			return i
		}
	}
	return -1
}

func (d *daemonProc) nStates() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.states)
}

func (d *daemonProc) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemonProc) wait() error {
	d.t.Helper()
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(30 * time.Second):
		d.t.Fatal("daemon did not exit")
		return nil
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte{'\n'})
}

const daemonBase = `state_dir = "state"
[source]
kind = "files"
passwd = "passwd"
aliases = "aliases"
[people]
dir = "People"
[daemon]
shutdown_grace = "1s"
`

func TestDaemonRunsAndNotifies(t *testing.T) {
	d := startDaemon(t, daemonBase+`
[metrics]
listen = "127.0.0.1:0"
[jobs.tick]
kind = "command"
schedule = "@every 1s"
command = ["/bin/sh", "-c", "echo tick >> ticks"]
`)
	d.waitFor("READY=1", func() bool { return d.notified("READY=1", 0) >= 0 })
	d.waitFor("STATUS=", func() bool { return d.notified("STATUS=", 0) >= 0 })
	d.waitFor("two runs of the @every 1s job", func() bool { return lines(filepath.Join(d.dir, "ticks")) >= 2 })
	d.waitFor("WATCHDOG=1", func() bool { return d.notified("WATCHDOG=1", 0) >= 0 })
	// The log line follows the job's own output: wait for it too.
	d.waitFor("two 'job succeeded' logs for tick", func() bool { return d.countLogs("job succeeded", "job", "tick") >= 2 })
	// Prometheus metrics and /healthz, on the address the daemon logged.
	var addr string
	d.waitFor("the metrics address", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, l := range d.logs {
			if l["msg"] == "metrics listening" {
				addr, _ = l["addr"].(string)
			}
		}
		return addr != ""
	})
	metrics := httpGet(t, "http://"+addr+"/metrics")
	if !strings.Contains(metrics, `job="tick"`) {
		t.Errorf("/metrics has no series for the tick job:\n%.2000s", metrics)
	}
	if h := httpGet(t, "http://"+addr+"/healthz"); !strings.Contains(strings.ToLower(h), "ok") {
		t.Errorf("/healthz: %q", h)
	}
	// Its runs are kept in the state directory, and status shows them.
	st, err := jobs.OpenState(filepath.Join(d.dir, "state"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if last, ok, err := st.Last("tick"); err != nil || !ok || last.Outcome != jobs.OutcomeSuccess {
		t.Errorf("last run %+v, %v, %v", last, ok, err)
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
	if d.notified("STOPPING=1", 0) < 0 {
		t.Error("no STOPPING=1")
	}
}

func TestDaemonPreventsOverlap(t *testing.T) {
	// Each run holds a directory as a mutex; a second run while one is
	// running would find it and record OVERLAP.
	d := startDaemon(t, daemonBase+`
[jobs.slow]
kind = "command"
schedule = "@every 1s"
command = ["/bin/sh", "-c", "mkdir running || echo OVERLAP >> overlap; echo run >> runs; sleep 2.5; rmdir running"]
`)
	d.waitFor("a skipped run", func() bool { return d.countLogs("run skipped", "job", "slow") >= 1 })
	d.waitFor("two runs", func() bool { return lines(filepath.Join(d.dir, "runs")) >= 2 })
	if _, err := os.Stat(filepath.Join(d.dir, "overlap")); err == nil {
		t.Fatal("two runs of the same job overlapped")
	}
	// run-once refuses while the daemon runs it, and says how to wait.
	d.waitFor("a run in progress", func() bool { _, err := os.Stat(filepath.Join(d.dir, "running")); return err == nil })
	out, err := exec.Command(exe(t, "peoplesync"), "--config", filepath.Join(d.dir, "peoplesync.toml"), "run-once", "slow").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") || !strings.Contains(string(out), "--wait") {
		t.Errorf("run-once during a daemon run: %v\n%s", err, out)
	}
}

func TestDaemonReload(t *testing.T) {
	good := daemonBase + `
[jobs.tick]
kind = "command"
schedule = "@every 1s"
command = ["/bin/sh", "-c", "echo tick >> %s"]
`
	d := startDaemon(t, fmt.Sprintf(good, "first"))
	d.waitFor("a run writing first", func() bool { return lines(filepath.Join(d.dir, "first")) >= 1 })

	writeFile(t, filepath.Join(d.dir, "peoplesync.toml"), fmt.Sprintf(good, "second"))
	from := d.nStates()
	d.signal(syscall.SIGHUP)
	d.waitFor("the reloaded job writing second", func() bool { return lines(filepath.Join(d.dir, "second")) >= 1 })
	rel := d.notified("RELOADING=1", from)
	if rel < 0 || d.notified("READY=1", rel) < 0 {
		t.Errorf("no RELOADING=1 then READY=1 after message %d", from)
	}

	// A bad config is refused and the running one goes on.
	writeFile(t, filepath.Join(d.dir, "peoplesync.toml"), daemonBase+"[jobs.tick]\nkind = \"nonsense\"\n")
	d.signal(syscall.SIGHUP)
	d.waitFor("the refusal", func() bool { return d.countLogs("reload refused: the running config stays") >= 1 })
	n := lines(filepath.Join(d.dir, "second"))
	d.waitFor("the old job still running", func() bool { return lines(filepath.Join(d.dir, "second")) > n })
}

func TestDaemonSIGTERMDuringRun(t *testing.T) {
	d := startDaemon(t, daemonBase+`
[jobs.long]
kind = "command"
schedule = "@every 1s"
command = ["/bin/sh", "-c", "echo started >> started; trap 'echo term >> terms; exit 1' TERM; sleep 60 & wait"]
`)
	d.waitFor("the long job to start", func() bool { return lines(filepath.Join(d.dir, "started")) >= 1 })
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
	if lines(filepath.Join(d.dir, "terms")) != 1 {
		t.Error("the running job was not sent SIGTERM after the grace period")
	}
	if d.notified("STOPPING=1", 0) < 0 {
		t.Error("no STOPPING=1")
	}
}

func TestDaemonCatchUp(t *testing.T) {
	dir := t.TempDir()
	// A nightly job that last ran two days ago: the run missed while the
	// daemon was down runs once at start, not once per missed night.
	st, err := jobs.OpenState(filepath.Join(dir, "state"), 0)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-50 * time.Hour)
	if err := st.Append(jobs.Record{ID: "old", Job: "nightly", Trigger: jobs.TriggerSchedule, Start: then, End: then.Add(time.Second), Outcome: jobs.OutcomeSuccess, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(daemonBase, `state_dir = "state"`, fmt.Sprintf("state_dir = %q", filepath.Join(dir, "state")), 1) + `
[jobs.nightly]
kind = "command"
schedule = "0 2 * * *"
catch_up = true
command = ["/bin/sh", "-c", "echo ran >> nightly"]
`
	d := startDaemon(t, cfg)
	d.waitFor("the catch-up run", func() bool { return d.countLogs("job succeeded", "job", "nightly") >= 1 })
	if n := lines(filepath.Join(d.dir, "nightly")); n != 1 {
		t.Errorf("caught up %d times, want once", n)
	}
	if d.countLogs("job started", "job", "nightly", "trigger", "catch-up") != 1 {
		t.Error("no run with trigger catch-up")
	}
}

func TestDaemonPanickingJob(t *testing.T) {
	d := startDaemon(t, daemonBase+`
[jobs.boom]
kind = "command"
schedule = "@every 1s"
command = ["true"]
`)
	d.waitFor("two panics, each recovered", func() bool { return d.countLogs("job panicked", "job", "boom") >= 2 })
	if d.countLogs("job failed", "job", "boom", "outcome", "panic") < 1 {
		t.Error("the panic was not counted as a failed run")
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Errorf("daemon exit after panics: %v", err)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}
