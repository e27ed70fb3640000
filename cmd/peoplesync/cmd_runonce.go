package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) runOnceCommand() *cobra.Command {
	var env jobEnv
	var wait bool
	cmd := &cobra.Command{
		Use:   "run-once [JOB...]",
		Short: "Run jobs now (all of them, in pipeline order, when none is named)",
		Long: `run-once runs the named jobs now and exits: 0 when all succeeded, 1 when one
failed. With no job named it runs every job in pipeline order; a job that runs
after a failed one does not run. The built-in jobs are maildb (dump passwd and
aliases from the domain, join and strip the aliases, install both and the
pictures in the People directory) and sync (copy the People directory to every
[[server]]), sync after maildb.

A job already running (in the daemon or another run-once) is refused, unless
--wait is given.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			for _, n := range names {
				if _, ok := c.Job(n); !ok {
					return fmt.Errorf("unknown job %q: the jobs are %s", n, strings.Join(c.JobNames(), ", "))
				}
			}
			return a.runJobs(cmd, c, names, env, wait)
		},
	}
	cmd.Flags().BoolVar(&env.force, "force", false, "install this once even if a safety check refuses it (an empty or much smaller dump, pruning every picture)")
	cmd.Flags().BoolVar(&env.dryRun, "dry-run", false, "sync: list what would be created, updated or deleted and which specials would run; change nothing")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for a job another process is running, instead of refusing")
	return cmd
}

// runJobs runs the named jobs (all, when names is empty) now, telling the
// person at the terminal what each did.
func (a *app) runJobs(cmd *cobra.Command, c *config.Config, names []string, env jobEnv, wait bool) error {
	env.report, env.stderr = a.stdout, a.stderr
	js, err := buildJobs(c, env)
	if err != nil {
		return err
	}
	if env.dryRun {
		return a.dryRun(cmd, c, js, names)
	}
	if err := checkStateOwner(c.StateDir); err != nil {
		return err
	}
	mode := jobs.LockFail
	if wait {
		mode = jobs.LockWait
	}
	if _, err := jobs.RunOnce(cmd.Context(), js, names, mode, schedulerOptions(c, a.log, nil)); err != nil {
		var locked *jobs.LockedError
		if errors.As(err, &locked) {
			err = fmt.Errorf("%w: wait for it with run-once --wait", err)
		}
		return failed(err)
	}
	return nil
}

// dryRun runs the sync jobs among names with --dry-run: they list what
// they would change and change nothing. A dry run is not a run: it takes no
// lock and is not recorded in the state directory. Other jobs are skipped.
func (a *app) dryRun(cmd *cobra.Command, c *config.Config, js []jobs.Job, names []string) error {
	ordered, err := jobs.Order(js, names...)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range ordered {
		if cj, _ := c.Job(j.Name); cj.Kind != "sync" {
			fmt.Fprintf(a.stdout, "%s: not a sync job: --dry-run skips it\n", j.Name)
			continue
		}
		if _, err := j.Run(cmd.Context(), a.log.With("job", j.Name, "dry_run", true)); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.Name, err))
		}
	}
	return failed(errors.Join(errs...))
}

// syncJobName is the name of the config's sync job.
func syncJobName(c *config.Config) string {
	for _, j := range c.Jobs {
		if j.Kind == "sync" {
			return j.Name
		}
	}
	return "sync"
}

// printMailDBSummary tells a person what the maildb job did.
func printMailDBSummary(w io.Writer, s *jobs.MailDBSummary) {
	for _, f := range []jobs.FileSummary{s.Passwd, s.Aliases} {
		state := "unchanged"
		switch {
		case f.Changed && f.Installed < 0:
			state = "installed (new)"
		case f.Changed:
			state = fmt.Sprintf("installed (was %d entries)", f.Installed)
		}
		fmt.Fprintf(w, "%-40s %6d entries  %s\n", f.Path, f.Entries, state)
	}
	fmt.Fprintf(w, "stripped %d mail-server alias(es), rewrote %d alias(es) with user@server members\n", s.Stripped, s.Rewritten)
	for _, n := range s.StrippedNames {
		fmt.Fprintf(w, "  stripped  %s\n", n)
	}
	if more := s.Stripped - len(s.StrippedNames); more > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", more)
	}
	if p := s.Pictures; len(p.Copied)+p.Unchanged+len(p.Removed)+len(p.Skipped) > 0 {
		fmt.Fprintf(w, "pictures: %d copied, %d unchanged, %d removed, %d skipped", len(p.Copied), p.Unchanged, len(p.Removed), len(p.Skipped))
		if len(p.Copied) > 0 {
			fmt.Fprintf(w, " (copied: %s)", strings.Join(p.Copied, ", "))
		}
		fmt.Fprintln(w)
	}
}
