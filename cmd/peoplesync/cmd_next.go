package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) nextCommand() *cobra.Command {
	var (
		count    int
		expr     string
		timezone string
		from     string
	)
	cmd := &cobra.Command{
		Use:   "next [JOB] [--count N] | next --schedule EXPR [--timezone TZ] [--from RFC3339] [--count N]",
		Short: "Print the next run times of the configured jobs, or of any schedule",
		Long: `next prints upcoming run times, one RFC 3339 time with the zone's offset per
line. With --schedule it needs no config: it shows when EXPR would run in
--timezone (default the host's zone), from --from (default now). Otherwise it
shows the configured jobs' schedules: for one JOB, its times; for all jobs,
"JOB TIME" lines.

Times follow cronie's DST rule: a fixed-time job whose time falls in the hour
skipped in spring runs once right after the jump, and once (not twice) when the
hour repeats in autumn.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > 10000 {
				return fmt.Errorf("--count %d: use 1 to 10000", count)
			}
			now := time.Now()
			if from != "" {
				t, err := time.Parse(time.RFC3339, from)
				if err != nil {
					return fmt.Errorf("--from %q: use RFC 3339, like 2026-03-08T00:00:00-05:00", from)
				}
				now = t
			}
			if expr != "" {
				if len(args) > 0 {
					return fmt.Errorf("give a JOB or --schedule, not both")
				}
				loc := time.Local
				if timezone != "" {
					var err error
					if loc, err = time.LoadLocation(timezone); err != nil {
						return fmt.Errorf("--timezone %q: not a time zone: use an IANA name like America/New_York", timezone)
					}
				}
				s, err := jobs.ParseSchedule(expr, loc)
				if err != nil {
					return fmt.Errorf("--schedule %q: %w", expr, err)
				}
				for _, t := range s.NextN(now, count) {
					fmt.Fprintln(a.stdout, t.Format(time.RFC3339))
				}
				return nil
			}
			if timezone != "" {
				return fmt.Errorf("--timezone goes with --schedule; a job's zone is its timezone key")
			}
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			js, err := buildJobs(c, jobEnv{})
			if err != nil {
				return err
			}
			if len(args) == 1 {
				for _, j := range js {
					if j.Name != args[0] {
						continue
					}
					if j.Schedule == nil {
						if j.After != "" {
							return failed(fmt.Errorf("job %s has no schedule: it runs after %s", j.Name, j.After))
						}
						return failed(fmt.Errorf("job %s has no schedule: it runs only with run-once", j.Name))
					}
					for _, t := range j.Schedule.NextN(now, count) {
						fmt.Fprintln(a.stdout, t.Format(time.RFC3339))
					}
					return nil
				}
				return fmt.Errorf("unknown job %q: the jobs are %s", args[0], strings.Join(c.JobNames(), ", "))
			}
			for _, j := range js {
				switch {
				case j.Schedule != nil:
					for _, t := range j.Schedule.NextN(now, count) {
						fmt.Fprintf(a.stdout, "%s %s\n", j.Name, t.Format(time.RFC3339))
					}
				case j.After != "":
					fmt.Fprintf(a.stdout, "%s after %s\n", j.Name, j.After)
				default:
					fmt.Fprintf(a.stdout, "%s unscheduled (run-once only)\n", j.Name)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&count, "count", 5, "how many run times")
	f.StringVar(&expr, "schedule", "", "a schedule `EXPR` to show instead of the configured jobs")
	f.StringVar(&timezone, "timezone", "", "the `TZ` --schedule is read in (default the host's zone)")
	f.StringVar(&from, "from", "", "start from this RFC 3339 `TIME` instead of now")
	return cmd
}
