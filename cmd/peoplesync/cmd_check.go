package main

import (
	"fmt"

	"github.com/spf13/cobra"

	fssync "github.com/peoplesync/peoplesync/sync"
)

func (a *app) checkCommand() *cobra.Command {
	var connect bool
	cmd := &cobra.Command{
		Use:   "check [--connect]",
		Short: "Validate the config (exit 0 when valid, 2 when not); --connect also tries every server",
		Long: `check validates the config file: every problem is reported at once with the
file, line and key, and the exit status is 0 when it is valid and 2 when not.

With --connect it also connects to every [[server]] and checks, in order, the
host key (against known_hosts), authentication, SFTP, the posix-rename
extension and that the target directory is writable; it reports each server and
exits 1 when one failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: ok\n", c.File)
			if !connect {
				return nil
			}
			if len(c.Servers) == 0 {
				fmt.Fprintln(a.stdout, "no [[server]] configured: nothing to connect to")
				return nil
			}
			bad := 0
			for _, r := range fssync.Check(cmd.Context(), syncHosts(c), syncOptions(c)) {
				for _, s := range r.Steps {
					switch {
					case s.Err != nil:
						fmt.Fprintf(a.stdout, "%-12s %-12s FAILED: %v\n", r.Host, s.Name, s.Err)
					case s.Detail != "":
						fmt.Fprintf(a.stdout, "%-12s %-12s ok (%s)\n", r.Host, s.Name, s.Detail)
					default:
						fmt.Fprintf(a.stdout, "%-12s %-12s ok\n", r.Host, s.Name)
					}
				}
				if r.Err != nil {
					bad++
				}
			}
			if bad > 0 {
				return failed(fmt.Errorf("%d of %d server(s) failed the check", bad, len(c.Servers)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&connect, "connect", false, "also connect to every server: host key, authentication, SFTP, posix-rename, target writable")
	return cmd
}
