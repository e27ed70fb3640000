package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// Job is one scheduled or pipelined job.
type Job struct {
	Name string
	// Kind is "maildb", "sync" or "command".
	Kind string
	// Schedule is a cron expression (5 fields, or 6 with seconds), a
	// descriptor (@daily) or @every DURATION, optionally prefixed with
	// CRON_TZ= or TZ=. Empty: run only after another job, or by run-once.
	Schedule string
	// Timezone is the zone the schedule is read in ("" for the host's).
	Timezone string
	// CatchUp runs a run missed while the daemon was down once at start.
	CatchUp bool
	// Timeout cancels a run that takes longer (0: none).
	Timeout time.Duration
	// Jitter delays each scheduled run by a random time up to it.
	Jitter time.Duration
	// Retries re-runs a failed run this many times, with backoff.
	Retries int
	// After runs this job when the named job succeeds.
	After string
	// Command is the argv of a command job.
	Command []string
}

// Daemon configures the long-running daemon.
type Daemon struct {
	// ShutdownGrace is how long SIGTERM waits for running jobs before
	// cancelling them.
	ShutdownGrace time.Duration
}

// Metrics configures the optional Prometheus endpoint.
type Metrics struct {
	// Listen is host:port; empty: no metrics.
	Listen string
}

// Defaults for the daemon.
const (
	DefaultStateDir      = "/var/lib/peoplesync"
	DefaultShutdownGrace = 2 * time.Minute
)

// builtinJobs are the jobs of a config with no [jobs] table.
func builtinJobs() []Job {
	return []Job{{Name: "maildb", Kind: "maildb"}, {Name: "sync", Kind: "sync", After: "maildb"}}
}

func (d *decoder) jobs(root table) []Job {
	t := d.sub(root, "jobs")
	if t.m == nil {
		return builtinJobs()
	}
	names := make([]string, 0, len(t.m))
	for n := range t.m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return d.line(t.key(names[i])) < d.line(t.key(names[j])) })
	var out []Job
	byName := map[string]bool{}
	for _, name := range names {
		jt := d.sub(t, name)
		j := Job{Name: name}
		byName[name] = true
		if !hostLabel.MatchString(name) {
			d.problem(jt.path, "job name %q: use letters, digits and '-'", name)
		}
		if !d.oneOf(jt, "kind", &j.Kind, "maildb", "sync", "command") {
			d.required(jt, "kind", `kind = "maildb", "sync" or "command"`)
		}
		if d.str(jt, "schedule", &j.Schedule) {
			if _, err := jobs.ParseSchedule(j.Schedule, time.UTC); err != nil {
				d.problem(jt.key("schedule"), "%q: %v: write 5 cron fields (\"0 2 * * *\"), 6 with seconds, a descriptor (\"@daily\") or \"@every 1h\"", j.Schedule, err)
			}
		}
		if d.str(jt, "timezone", &j.Timezone) {
			if _, err := time.LoadLocation(j.Timezone); err != nil || j.Timezone == "" {
				d.problem(jt.key("timezone"), "%q is not a time zone: use an IANA name like \"America/New_York\" or \"UTC\"", j.Timezone)
			}
		}
		d.boolean(jt, "catch_up", &j.CatchUp)
		d.duration(jt, "timeout", &j.Timeout)
		d.duration(jt, "jitter", &j.Jitter)
		d.integer(jt, "retries", &j.Retries, 0, 100)
		d.str(jt, "after", &j.After)
		if j.Kind == "command" {
			if !d.argv(jt, "command", &j.Command) {
				d.required(jt, "command", `an argv list, e.g. command = ["/usr/local/sbin/rotate-spool", "--keep", "7"]`)
			}
		} else if _, ok := jt.m["command"]; ok {
			d.get(jt, "command")
			d.problem(jt.key("command"), `only used with kind = "command"`)
		}
		if j.Schedule != "" && j.After != "" {
			d.problem(jt.key("after"), "a job runs on a schedule or after another job, not both: remove schedule or after")
		}
		out = append(out, j)
	}
	for _, j := range out {
		if j.After == "" {
			continue
		}
		if !byName[j.After] {
			d.problem(t.key(j.Name+".after"), "no job named %q: the jobs are %s", j.After, strings.Join(names, ", "))
		} else if cycle := afterCycle(out, j.Name); cycle != "" {
			d.problem(t.key(j.Name+".after"), "jobs run after each other in a circle: %s", cycle)
		}
	}
	return out
}

// afterCycle returns the cycle through start's after chain, if any.
func afterCycle(jobs []Job, start string) string {
	after := map[string]string{}
	for _, j := range jobs {
		after[j.Name] = j.After
	}
	path := []string{start}
	for cur := after[start]; cur != ""; cur = after[cur] {
		path = append(path, cur)
		if cur == start {
			return strings.Join(path, " -> ")
		}
		if len(path) > len(jobs)+1 {
			return ""
		}
	}
	return ""
}

func (d *decoder) daemon(t table) Daemon {
	dm := Daemon{ShutdownGrace: DefaultShutdownGrace}
	d.duration(t, "shutdown_grace", &dm.ShutdownGrace)
	return dm
}

func (d *decoder) metrics(t table) Metrics {
	var m Metrics
	if d.str(t, "listen", &m.Listen) && !strings.Contains(m.Listen, ":") {
		d.problem(t.key("listen"), "%q is not host:port, e.g. \"127.0.0.1:9108\"", m.Listen)
	}
	return m
}

// Job returns the job named name.
func (c *Config) Job(name string) (Job, bool) {
	for _, j := range c.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}

// JobNames lists the jobs' names in config order.
func (c *Config) JobNames() []string {
	out := make([]string, len(c.Jobs))
	for i, j := range c.Jobs {
		out[i] = j.Name
	}
	return out
}

func (j Job) String() string { return fmt.Sprintf("%s (%s)", j.Name, j.Kind) }
