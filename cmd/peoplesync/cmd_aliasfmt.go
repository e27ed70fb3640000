package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/nidump"
)

func (a *app) aliasfmtCommand() *cobra.Command {
	var servers []string
	var mode string
	cmd := &cobra.Command{
		Use:   "aliasfmt [--mail-server NAME]... [--strip-mode routing|grep]",
		Short: "Join, normalize and strip aliases: a filter from stdin to stdout",
		Long: `aliasfmt reads nidump aliases output (or an aliases(5) file) on standard input
and writes one alias per line, "name: m1,m2,m3", to standard output: long
aliases nidump wrapped over several lines are joined, and the aliases that route
users to the mail servers are stripped on whole entries. It replaces

    nidump aliases /mail | grep -v "@earth" | grep -v "@venus"

with

    nidump aliases /mail | peoplesync aliasfmt --mail-server earth --mail-server venus

With no --mail-server it only joins and normalizes. It needs no config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := aliasfmt.ParseMode(mode)
			if err != nil {
				return err
			}
			var stripped func(nidump.Alias)
			if a.log.Enabled(cmd.Context(), slog.LevelDebug) {
				stripped = func(al nidump.Alias) {
					a.log.Debug("stripped mail-server alias", "alias", al.Name, "line", al.Line)
				}
			}
			st, err := aliasfmt.Format(a.stdin, a.stdout, "stdin", aliasfmt.Options{MailServers: servers, Mode: m}, stripped)
			if err != nil {
				return failed(err)
			}
			a.log.Debug("aliasfmt done", "read", st.Read, "written", st.Written, "stripped", st.Stripped, "rewritten", st.Rewritten)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&servers, "mail-server", nil, "a mail server's host `NAME` whose routing aliases are stripped (repeat for each)")
	cmd.Flags().StringVar(&mode, "strip-mode", "routing", "routing: drop user@SERVER routing aliases and make such members local; grep: drop every alias with a user@SERVER member")
	return cmd
}
