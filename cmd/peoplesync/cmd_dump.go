package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) dumpCommand() *cobra.Command {
	return &cobra.Command{
		Use:       "dump passwd|aliases",
		Short:     "Print the processed passwd or aliases the maildb job would install, writing nothing",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"passwd", "aliases"},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			src := newSource(c)
			w := bufio.NewWriterSize(a.stdout, 64*1024)
			switch args[0] {
			case "passwd":
				_, err = jobs.WritePasswd(cmd.Context(), src, w, c.People.RedactPasswords)
			case "aliases":
				_, err = jobs.WriteAliases(cmd.Context(), src, w, aliasfmt.Options{MailServers: c.People.MailServers, Mode: c.People.StripMode}, nil)
			default:
				return fmt.Errorf("dump %q: use passwd or aliases", args[0])
			}
			if err != nil {
				return failed(err)
			}
			return failed(w.Flush())
		},
	}
}
