package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) runOnceCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "run-once [JOB...]",
		Short: "Run jobs now (all of them, in pipeline order, when none is named)",
		Long: `run-once runs the named jobs now and exits: 0 when all succeeded, 1 when one
failed. With no job named it runs every job in pipeline order. The built-in
job is maildb: dump passwd and aliases from the domain, join and strip the
aliases, and install both (and the pictures) in the People directory.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				names = []string{"maildb"}
			}
			for _, n := range names {
				if n != "maildb" {
					return fmt.Errorf("unknown job %q: the jobs are maildb", n)
				}
			}
			for _, n := range names {
				log := a.log.With("job", n, "run", newRunID())
				if err := a.runMailDB(cmd, c, log, force); err != nil {
					log.Error("job failed", "err", err)
					return failed(fmt.Errorf("job %s: %w", n, err))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "install this once even if a safety check refuses it (an empty or much smaller dump, pruning every picture)")
	return cmd
}

func (a *app) runMailDB(cmd *cobra.Command, c *config.Config, log *slog.Logger, force bool) error {
	log.Info("maildb starting", "source", c.Source.String(), "dir", c.People.Dir)
	sum, err := newMailDB(c, force).Run(cmd.Context(), log)
	if err != nil {
		return err
	}
	log.Info("maildb done",
		"passwd_entries", sum.Passwd.Entries, "passwd_changed", sum.Passwd.Changed,
		"aliases_entries", sum.Aliases.Entries, "aliases_changed", sum.Aliases.Changed,
		"stripped", sum.Stripped, "rewritten", sum.Rewritten,
		"pictures_copied", sum.PicturesCopied, "pictures_removed", sum.PicturesRemoved,
		"duration", sum.Duration)
	printMailDBSummary(a.stdout, sum)
	return nil
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
