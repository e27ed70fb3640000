package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/aliaslint"
	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

// domainFlags name dump files to read instead of the config's [source],
// and the mail servers instead of [people] mail_servers.
type domainFlags struct {
	passwd, aliases string
	format          string
	servers         []string
	minUID          int
}

func (f *domainFlags) register(cmd *cobra.Command, aliases bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.passwd, "passwd", "", "read the users from this `FILE` (nidump passwd output) instead of the config's [source]")
	if aliases {
		fl.StringVar(&f.aliases, "aliases", "", "read the aliases from this `FILE` (nidump aliases output or aliases(5)) instead of the config's [source]")
		fl.StringVar(&f.format, "format", "nidump", "the form of --passwd and --aliases: nidump, or raw for nidump -r output")
	}
	fl.StringArrayVar(&f.servers, "mail-server", nil, "a mail server's host `NAME` (repeat for each; default: [people] mail_servers)")
	fl.IntVar(&f.minUID, "min-uid", 100, "users with a lower uid are system accounts, which need no routing alias")
}

// domain is where the users and aliases are read from, with labels for
// messages.
type domain struct {
	src                      source.Source
	passwdLabel, aliasLabel  string
	servers                  []string
	serversFromConfigOrFlags bool
}

// open resolves the flags and, when they do not name everything, the
// config.
func (f *domainFlags) open(a *app, wantAliases bool) (*domain, error) {
	d := &domain{servers: f.servers, serversFromConfigOrFlags: len(f.servers) > 0}
	var format source.Format
	switch f.format {
	case "", "nidump":
	case "raw":
		format = source.Raw
	default:
		return nil, fmt.Errorf("--format %q: use nidump or raw", f.format)
	}
	files := f.passwd != "" || f.aliases != ""
	if files && wantAliases && (f.passwd == "" || f.aliases == "") {
		return nil, errors.New("give both --passwd and --aliases, or neither (to read the config's [source])")
	}
	var c *config.Config
	if !files || len(f.servers) == 0 {
		var err error
		c, err = a.loadConfig()
		if err != nil && (!files || !config.IsConfigError(err) || !strings.Contains(err.Error(), "config file not found")) {
			return nil, err
		}
	}
	if c != nil && len(f.servers) == 0 {
		d.servers, d.serversFromConfigOrFlags = c.People.MailServers, true
	}
	if files {
		d.src = source.Files{PasswdPath: f.passwd, AliasesPath: f.aliases, Format: format}
		d.passwdLabel, d.aliasLabel = f.passwd, f.aliases
		return d, nil
	}
	d.src = newSource(c)
	d.passwdLabel, d.aliasLabel = sourceLabels(c.Source)
	return d, nil
}

// sourceLabels name where the config's passwd and aliases come from.
func sourceLabels(s config.Source) (passwd, aliases string) {
	switch s.Kind {
	case "command":
		return strings.Join(s.PasswdCommand, " "), strings.Join(s.AliasesCommand, " ")
	case "ldap":
		dom := s.LDAP.Chosen()
		return s.LDAP.URL + " " + dom.UsersBase, s.LDAP.URL + " " + dom.AliasesBase
	}
	return s.Passwd, s.Aliases
}

func (a *app) lintCommand() *cobra.Command {
	var f domainFlags
	cmd := &cobra.Command{
		Use:   "lint [--passwd FILE --aliases FILE] [--mail-server NAME]... [--min-uid N]",
		Short: "Check the alias plan against the users and the mail servers (exit 0 clean, 1 problems)",
		Long: `lint reads the users and aliases from the config's [source] (or from --passwd and
--aliases files) and checks the alias plan against them and the mail servers
([people] mail_servers, or --mail-server):

  no-route        a user (uid >= --min-uid) with no routing alias "user: user@SERVER"
  two-servers     a user routed to more than one mail server
  unknown-server  a routing alias "user: user@HOST" to a site host (a name with no
                  dots, or in a mail server's domain) that is not a mail server
  loop            aliases that expand into each other, or one that includes itself
                  with no user of its name to deliver to
  no-such-user    a member naming a local user (or user@SERVER) that does not
                  exist and is not an alias either
  duplicate       an alias name defined twice (compared case-insensitively)
  needs-quoting   a name with a space, '#', ':', '@', ',' or '"', a member with a
                  comma, or a program member with a space, not in double quotes

Each problem is printed with its entry and where it was read (file:line when
known), one a line. Exit status 0 when the plan is clean, 1 when there are
problems or the domain could not be read, 2 for a usage or config error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := f.open(a, true)
			if err != nil {
				return err
			}
			if len(d.servers) == 0 {
				fmt.Fprintln(a.stderr, "peoplesync: lint: no mail servers (set [people] mail_servers or give --mail-server): the routing checks are skipped")
			}
			c, err := aliaslint.New(aliaslint.Options{MailServers: d.servers, MinUID: f.minUID, PasswdFile: d.passwdLabel, AliasesFile: d.aliasLabel})
			if err != nil {
				return fmt.Errorf("--mail-server: %w", err)
			}
			users, aliases := 0, 0
			err = d.src.Passwd(cmd.Context(), func(e nidump.PasswdEntry) error { users++; c.AddUser(e); return nil })
			if err != nil {
				return failed(fmt.Errorf("lint: read the users: %w", err))
			}
			err = d.src.Aliases(cmd.Context(), func(al nidump.Alias) error { aliases++; c.AddAlias(al); return nil })
			if err != nil {
				return failed(fmt.Errorf("lint: read the aliases: %w", err))
			}
			problems := c.Problems()
			for _, p := range problems {
				fmt.Fprintln(a.stdout, p)
			}
			if len(problems) > 0 {
				return failed(fmt.Errorf("lint: %d problem(s) in the alias plan (%d users, %d aliases)", len(problems), users, aliases))
			}
			fmt.Fprintf(a.stdout, "lint: %d users, %d aliases: no problems\n", users, aliases)
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}
