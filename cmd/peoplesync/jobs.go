package main

import (
	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
	"github.com/peoplesync/peoplesync/source"
)

// newSource builds the domain source the config names.
func newSource(c *config.Config) source.Source {
	s := c.Source
	format := source.Nidump
	if s.Format == "raw" {
		format = source.Raw
	}
	switch s.Kind {
	case "command":
		return source.Command{PasswdArgv: s.PasswdCommand, AliasesArgv: s.AliasesCommand, Timeout: s.Timeout, Format: format}
	case "ldap":
		return newLDAPSource(s)
	default:
		return source.Files{PasswdPath: s.Passwd, AliasesPath: s.Aliases, Format: format}
	}
}

// newMailDB builds the maildb job from the config.
func newMailDB(c *config.Config, force bool) *jobs.MailDB {
	return &jobs.MailDB{
		Source:          newSource(c),
		Dir:             c.People.Dir,
		Strip:           aliasfmt.Options{MailServers: c.People.MailServers, Mode: c.People.StripMode},
		RedactPasswords: c.People.RedactPasswords,
		MaxShrink:       c.People.MaxShrink,
		Pictures:        c.People.Pictures,
		PrunePictures:   c.People.PrunePictures,
		Force:           force,
	}
}
