package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/config"
)

const base = "[source]\nkind = \"files\"\npasswd = \"/p\"\naliases = \"/a\"\n[people]\ndir = \"/People\"\n"

func TestSyncConfig(t *testing.T) {
	c, err := config.Parse("/etc/p.toml", []byte(base+`
[ssh]
user = "peoplesync"
identity_file = "id_ed25519"
known_hosts = "/etc/peoplesync/known_hosts"
connect_timeout = "5s"
io_timeout = "30s"

[[server]]
name = "venus"
address = "venus.example.com:2222"
path = "/LocalLibrary/Images/People/"

[[server]]
name = "earth"
path = "/LocalLibrary/Images/People"
user = "root"

[sync]
parallel = 2
compare = "content"
delete = true
max_delete = 3
exclude = ["*.bak"]
bwlimit = "256KiB"

[[sync.special]]
match = "aliases"
command = "newaliases"
`))
	if err != nil {
		t.Fatal(err)
	}
	wantSSH := config.SSH{User: "peoplesync", IdentityFile: "/etc/id_ed25519", KnownHosts: "/etc/peoplesync/known_hosts", ConnectTimeout: 5 * time.Second, IOTimeout: 30 * time.Second}
	if c.SSH != wantSSH {
		t.Errorf("ssh %+v", c.SSH)
	}
	wantServers := []config.Server{
		{Name: "venus", Address: "venus.example.com:2222", Path: "/LocalLibrary/Images/People"},
		{Name: "earth", Address: "earth:22", Path: "/LocalLibrary/Images/People", User: "root"},
	}
	if !reflect.DeepEqual(c.Servers, wantServers) {
		t.Errorf("servers %+v", c.Servers)
	}
	wantSync := config.Sync{Parallel: 2, Compare: "content", Delete: true, MaxDelete: 3, Exclude: []string{"*.bak"}, BWLimit: 256 << 10,
		Specials: []config.Special{{Match: "aliases", Command: "newaliases"}}}
	if !reflect.DeepEqual(c.Sync, wantSync) {
		t.Errorf("sync %+v", c.Sync)
	}
	// mail_servers defaults to the servers' names.
	if !reflect.DeepEqual(c.People.MailServers, []string{"venus", "earth"}) {
		t.Errorf("mail servers %q", c.People.MailServers)
	}
}

func TestSyncConfigProblems(t *testing.T) {
	_, err := config.Parse("p.toml", []byte(base+`[[server]]
name = "ven us"
address = "venus:99999"
path = "relative"
[[server]]
path = "/"
[sync]
compare = "bytes"
bwlimit = "fast"
parallel = 0
[[sync.special]]
match = "["
`))
	for _, w := range []string{
		`p.toml:8: server.0.name: "ven us" is not a host name`,
		`p.toml:9: server.0.address: "venus:99999": port "99999"`,
		`p.toml:10: server.0.path: "relative" must be an absolute directory`,
		`server.1.name: required key is missing`,
		`p.toml:12: server.1.path: "/" must be an absolute directory`,
		`p.toml:14: sync.compare: "bytes" is not one of "mtime" or "content"`,
		`p.toml:15: sync.bwlimit: "fast" is not a rate`,
		`p.toml:16: sync.parallel: 0 is out of range`,
		`p.toml:18: sync.special.0.match: bad glob "["`,
		`sync.special.0.command: required key is missing`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestJobsConfig(t *testing.T) {
	c, err := config.Parse("p.toml", []byte("state_dir = \"/var/lib/ps\"\n"+base+`
[jobs.maildb]
kind = "maildb"
schedule = "0 2 * * *"
timezone = "America/New_York"
catch_up = true
timeout = "30m"

[jobs.sync]
kind = "sync"
after = "maildb"

[jobs.rotate]
kind = "command"
command = ["/usr/local/sbin/rotate-spool", "--keep", "7"]
schedule = "@daily"
jitter = "10m"
retries = 2

[daemon]
shutdown_grace = "1m"
[metrics]
listen = "127.0.0.1:9108"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Job{
		{Name: "maildb", Kind: "maildb", Schedule: "0 2 * * *", Timezone: "America/New_York", CatchUp: true, Timeout: 30 * time.Minute},
		{Name: "sync", Kind: "sync", After: "maildb"},
		{Name: "rotate", Kind: "command", Command: []string{"/usr/local/sbin/rotate-spool", "--keep", "7"}, Schedule: "@daily", Jitter: 10 * time.Minute, Retries: 2},
	}
	if !reflect.DeepEqual(c.Jobs, want) {
		t.Errorf("jobs\n%+v\nwant\n%+v", c.Jobs, want)
	}
	if c.StateDir != "/var/lib/ps" || c.Daemon.ShutdownGrace != time.Minute || c.Metrics.Listen != "127.0.0.1:9108" {
		t.Errorf("state %q daemon %+v metrics %+v", c.StateDir, c.Daemon, c.Metrics)
	}
}

func TestBuiltinJobs(t *testing.T) {
	c, err := config.Parse("p.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Job{{Name: "maildb", Kind: "maildb"}, {Name: "sync", Kind: "sync", After: "maildb"}}
	if !reflect.DeepEqual(c.Jobs, want) || c.StateDir != config.DefaultStateDir {
		t.Errorf("jobs %+v state %q", c.Jobs, c.StateDir)
	}
}

func TestJobsProblems(t *testing.T) {
	_, err := config.Parse("p.toml", []byte(base+`[jobs.a]
kind = "maildb"
schedule = "0 25 * * *"
timezone = "Mars/Olympus"
after = "b"
[jobs.b]
kind = "command"
after = "a"
[jobs.c]
kind = "sync"
after = "nope"
command = ["x"]
`))
	for _, w := range []string{
		`p.toml:9: jobs.a.schedule: "0 25 * * *"`,
		`p.toml:10: jobs.a.timezone: "Mars/Olympus" is not a time zone`,
		`p.toml:11: jobs.a.after: a job runs on a schedule or after another job, not both`,
		`jobs.b.command: required key is missing`,
		`jobs.a.after: jobs run after each other in a circle: a -> b -> a`,
		`p.toml:17: jobs.c.after: no job named "nope"`,
		`p.toml:18: jobs.c.command: only used with kind = "command"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"256KiB": 256 << 10, "1MiB": 1 << 20, "500K": 500 << 10, "2M": 2 << 20, "1024": 1024, "1G": 1 << 30} {
		if got, err := config.ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "1X", "KiB"} {
		if _, err := config.ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}
