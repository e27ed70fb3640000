package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show each job's last run, its result and its next run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			js, err := buildJobs(c, jobEnv{})
			if err != nil {
				return err
			}
			st, err := jobs.ReadStatus(c.StateDir, js, time.Now())
			if err != nil {
				return failed(err)
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return failed(enc.Encode(st))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tLAST RUN\tRESULT\tDURATION\tNEXT RUN")
			for _, s := range st {
				last, result, dur := "never", "-", "-"
				if s.Last != nil {
					last = s.Last.Start.Format(time.RFC3339)
					result = string(s.Last.Outcome)
					if s.Last.Error != "" {
						result += ": " + truncate(s.Last.Error, 60)
					}
					dur = s.Last.Duration().Round(time.Millisecond).String()
				}
				next := "run-once only"
				switch {
				case !s.Next.IsZero():
					next = s.Next.Format(time.RFC3339)
				case s.After != "":
					next = "after " + s.After
				}
				if s.Error != "" {
					result = "history unreadable: " + s.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Job, last, result, dur, next)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
