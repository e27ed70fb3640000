package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
	"github.com/peoplesync/peoplesync/source"
)

// newSource builds the domain source the config names.
func newSource(c *config.Config) source.Source {
	s := c.Source
	format := source.Nidump
	if s.Format == "raw" {
		format = source.Raw
	}
	switch s.Kind {
	case "command":
		return source.Command{PasswdArgv: s.PasswdCommand, AliasesArgv: s.AliasesCommand, Timeout: s.Timeout, Format: format}
	case "ldap":
		return newLDAPSource(s, c.People.RedactPasswords)
	default:
		return source.Files{PasswdPath: s.Passwd, AliasesPath: s.Aliases, Format: format}
	}
}

// newMailDB builds the maildb job from the config.
func newMailDB(c *config.Config, force bool) *jobs.MailDB {
	return &jobs.MailDB{
		Source:          newSource(c),
		Dir:             c.People.Dir,
		Strip:           aliasfmt.Options{MailServers: c.People.MailServers, Mode: c.People.StripMode},
		RedactPasswords: c.People.RedactPasswords,
		MaxShrink:       c.People.MaxShrink,
		Pictures:        c.People.Pictures,
		PrunePictures:   c.People.PrunePictures,
		Force:           force,
	}
}

// jobEnv is how the jobs are being run.
type jobEnv struct {
	force  bool          // run-once --force
	dryRun bool          // run-once --dry-run: sync lists what it would change
	report io.Writer     // where run-once tells a person what each job did; nil in the daemon
	stderr io.Writer     // for progress on a terminal
	metric *jobs.Metrics // nil when metrics are off
}

// buildJobs turns the config's jobs into runnable ones.
func buildJobs(c *config.Config, env jobEnv) ([]jobs.Job, error) {
	out := make([]jobs.Job, 0, len(c.Jobs))
	for _, cj := range c.Jobs {
		j := jobs.Job{Name: cj.Name, After: cj.After, CatchUp: cj.CatchUp, Timeout: cj.Timeout, Jitter: cj.Jitter, Retries: cj.Retries}
		if cj.Schedule != "" {
			loc := time.Local
			if cj.Timezone != "" {
				var err error
				if loc, err = time.LoadLocation(cj.Timezone); err != nil {
					return nil, fmt.Errorf("job %s: %w", cj.Name, err)
				}
			}
			s, err := jobs.ParseSchedule(cj.Schedule, loc)
			if err != nil {
				return nil, fmt.Errorf("job %s: schedule %q: %w", cj.Name, cj.Schedule, err)
			}
			j.Schedule = s
		}
		switch cj.Kind {
		case "maildb":
			j.Run = maildbRun(c, env)
		case "sync":
			j.Run = syncRun(c, env)
		case "command":
			j.Run = jobs.Command{Argv: cj.Command}.Run
		default:
			return nil, fmt.Errorf("job %s: unknown kind %q", cj.Name, cj.Kind)
		}
		if testRunHook != nil {
			j.Run = testRunHook(j.Name, j.Run)
		}
		out = append(out, j)
	}
	return out, nil
}

// testRunHook lets the daemon's end-to-end tests, which run this binary,
// replace a job's run (to make one panic). It is nil outside tests.
var testRunHook func(name string, run jobs.RunFunc) jobs.RunFunc

func maildbRun(c *config.Config, env jobEnv) jobs.RunFunc {
	return func(ctx context.Context, log *slog.Logger) (any, error) {
		log.Info("maildb starting", "source", c.Source.String(), "dir", c.People.Dir)
		sum, err := newMailDB(c, env.force).Run(ctx, log)
		if err != nil {
			return sum, err
		}
		log.Info("maildb done",
			"passwd_entries", sum.Passwd.Entries, "passwd_changed", sum.Passwd.Changed,
			"aliases_entries", sum.Aliases.Entries, "aliases_changed", sum.Aliases.Changed,
			"stripped", sum.Stripped, "rewritten", sum.Rewritten,
			"pictures_copied", sum.PicturesCopied, "pictures_removed", sum.PicturesRemoved,
			"duration", sum.Duration)
		if env.report != nil {
			printMailDBSummary(env.report, sum)
		}
		return sum, nil
	}
}

// schedulerOptions are the options every run of the jobs shares.
func schedulerOptions(c *config.Config, log *slog.Logger, metrics *jobs.Metrics) jobs.Options {
	return jobs.Options{StateDir: c.StateDir, Logger: log, Metrics: metrics, Retryable: retryable}
}
