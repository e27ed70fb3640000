package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/aliasplan"
	"github.com/peoplesync/peoplesync/nidump"
)

func (a *app) aliasesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aliases",
		Short: "Work on the domain's aliases (see: aliases generate)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.aliasesGenerateCommand())
	return cmd
}

func (a *app) aliasesGenerateCommand() *cobra.Command {
	var f domainFlags
	var assign, format, base, group string
	cmd := &cobra.Command{
		Use:   "generate --assign FILE [--format niload|ldif] [--base DN] [--group FILE] [--passwd FILE]",
		Short: "Write the routing aliases (user: user@SERVER) from a file assigning users to mail servers",
		Long: `generate writes the routing aliases of the article's first step, one per user,

    jnewberg: jnewberg@earth

from an assignment file that says which mail server each user (or each group of
users) gets their mail on. The users are read from the config's [source], or
from --passwd FILE (nidump passwd output).

The assignment file has one line per mail server; a server may have several:

    # SERVER: who gets their mail there
    earth: jnewberg ksmith      # users, by login name
    venus: @staff @20           # whole groups, by name or gid number
    earth: *                    # everyone not assigned otherwise

Names are separated by spaces or commas and '#' starts a comment. A group is
every user whose passwd gid is the group's (the primary group); a group name
needs --group FILE (a group(5) file, or "nidump group /" output), a number
does not. A user named explicitly wins over a group, and a group over '*'.
Assigning a user, a group or '*' to two servers is an error. Groups and '*'
leave out users below --min-uid (system accounts); a user named explicitly is
always routed. Each server must be one of the mail servers ([people]
mail_servers, or --mail-server) when those are known.

--format niload (the default) writes "user: user@server" lines for

    peoplesync aliases generate --assign assign > routing
    niload aliases /mail < routing

--format ldif writes nisMailAlias entries under --base DN for ldapadd:

    peoplesync aliases generate --assign assign --format ldif --base ou=aliases,dc=example,dc=com |
        ldapadd -x -D cn=admin,dc=example,dc=com -W

Users no line assigns are listed on standard error as a warning.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case assign == "":
				return fmt.Errorf("--assign FILE is required: the file assigning users to mail servers (see --help)")
			case format != "niload" && format != "ldif":
				return fmt.Errorf("--format %q: use niload or ldif", format)
			case format == "ldif" && base == "":
				return fmt.Errorf("--format ldif needs --base DN: where the aliases go, e.g. --base ou=aliases,dc=example,dc=com")
			case format == "niload" && base != "":
				return fmt.Errorf("--base is only used with --format ldif")
			}
			af, err := os.Open(assign)
			if err != nil {
				return failed(err)
			}
			// Mistakes in the file are reported with those Plan finds, all
			// at once.
			plan, parseErr := aliasplan.ParseAssignment(af, assign)
			af.Close()
			var opts aliasplan.Options
			opts.MinUID = f.minUID
			if group != "" {
				gf, err := os.Open(group)
				if err != nil {
					return failed(err)
				}
				opts.Groups, err = aliasplan.ParseGroups(gf, group)
				gf.Close()
				if err != nil {
					return failed(err)
				}
			}
			d, err := f.open(a, false)
			if err != nil {
				return err
			}
			if err := checkServers(plan, assign, d.servers); err != nil {
				return failed(err)
			}
			var users []nidump.PasswdEntry
			if err := d.src.Passwd(cmd.Context(), func(e nidump.PasswdEntry) error { users = append(users, e); return nil }); err != nil {
				return failed(fmt.Errorf("read the users: %w", err))
			}
			p, err := plan.Plan(users, opts)
			if err := errors.Join(parseErr, err); err != nil {
				return failed(err)
			}
			w := bufio.NewWriter(a.stdout)
			if format == "ldif" {
				err = aliasplan.WriteLDIF(w, p.Routes, base)
			} else {
				err = aliasplan.WriteNiload(w, p.Routes)
			}
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				return failed(err)
			}
			for _, warn := range p.Warnings {
				fmt.Fprintf(a.stderr, "peoplesync: warning: %s\n", warn)
			}
			if n := len(p.Unassigned); n > 0 {
				shown := p.Unassigned[:min(n, 20)]
				more := ""
				if n > len(shown) {
					more = fmt.Sprintf(" and %d more", n-len(shown))
				}
				fmt.Fprintf(a.stderr, "peoplesync: warning: %d user(s) assigned to no mail server: %s%s (add them to %s, or a '*' line)\n", n, strings.Join(shown, ", "), more, assign)
			}
			return nil
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringVar(&assign, "assign", "", "the `FILE` assigning users and groups to mail servers")
	fl.StringVar(&format, "format", "niload", "niload (user: user@server lines) or ldif (nisMailAlias entries)")
	fl.StringVar(&base, "base", "", "with --format ldif: the `DN` the alias entries go under")
	fl.StringVar(&group, "group", "", "a group(5) `FILE` that resolves @NAME groups to gids")
	return cmd
}

// checkServers refuses an assignment to a host that is not a mail server,
// when the mail servers are known.
func checkServers(plan *aliasplan.Assignment, file string, servers []string) error {
	if len(servers) == 0 {
		return nil
	}
	st, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: servers})
	if err != nil {
		return err
	}
	var bad []string
	for _, s := range plan.Servers() {
		if !st.IsServer(s) {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s assigns users to %s, which is not one of the mail servers (%s): fix the name, or add it to [people] mail_servers", file, strings.Join(bad, " and "), strings.Join(servers, ", "))
	}
	return nil
}
