package main

import (
	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

// newLDAPSource builds the LDAP source of [source] kind = "ldap", for the
// domain the config chose. With redact set the password hashes are not
// even read.
func newLDAPSource(s config.Source, redact bool) source.LDAP {
	l := s.LDAP
	dom := l.Chosen()
	attr := func(key string) string { return l.Attributes[key] } // "" keeps the standard name
	return source.LDAP{
		URL: l.URL, StartTLS: l.StartTLS, CAFile: l.CAFile,
		BindDN: l.BindDN, BindPasswordFile: l.BindPasswordFile,
		Domain:    l.Domain,
		UsersBase: dom.UsersBase, UsersFilter: dom.UsersFilter,
		AliasesBase: dom.AliasesBase, AliasesFilter: dom.AliasesFilter,
		Attributes: source.LDAPAttributes{
			UID: attr("uid"), UserPassword: attr("user_password"), UIDNumber: attr("uid_number"),
			GIDNumber: attr("gid_number"), Gecos: attr("gecos"), CN: attr("cn"),
			HomeDirectory: attr("home_directory"), LoginShell: attr("login_shell"),
			AliasName: attr("alias_name"), AliasMember: attr("alias_member"),
		},
		PasswdForm:     nidump.PasswdForm(l.PasswdForm),
		SkipPasswords:  redact,
		PageSize:       l.PageSize,
		ConnectTimeout: l.ConnectTimeout,
		RequestTimeout: l.RequestTimeout,
		Timeout:        s.Timeout,
	}
}
