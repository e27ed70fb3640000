package main

import (
	"github.com/spf13/cobra"
)

func (a *app) planCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "List what sync would create, update or delete on each server, changing nothing",
		Long: `plan is run-once sync --dry-run: for each server, one line per change (like
rsync -i) and the specials that would run. It changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.runJobs(cmd, c, []string{syncJobName(c)}, jobEnv{dryRun: true}, false)
		},
	}
}
