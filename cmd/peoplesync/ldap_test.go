package main

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/peoplesync/peoplesync/internal/ldapgen"
	"github.com/peoplesync/peoplesync/internal/testpeer"
)

// TestLDAPScripts drives the binary against a real slapd through
// testdata/ldap/*.txtar. A script skips itself with `[!slapd] skip` when
// slapd is not installed, and starts it with `slapd FILE...`, which
// also replaces $LDAP_URL, $LDAPS_URL, $LDAP_CA and $LDAP_PASSWORD_FILE in
// the named files (configs).
func TestLDAPScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/ldap",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PEOPLESYNC_CONFIG", env.WorkDir+"/peoplesync.toml")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"slapd": slapdCmd},
		// [slapd] is true when slapd is installed, and always under
		// CI=true, where a missing slapd must fail the script.
		Condition: func(cond string) (bool, error) {
			if cond != "slapd" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			return testpeer.InCI() || testpeer.SlapdInstalled() == nil, nil
		},
	})
}

func slapdCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: slapd FILE...")
	}
	s, err := testpeer.RunSlapd(ts.MkAbs(".slapd"), testpeer.SlapdOptions{LDIF: scriptLDIF, TLS: true})
	ts.Check(err)
	ts.Defer(s.Stop)
	vars := map[string]string{"LDAP_URL": s.URL, "LDAPS_URL": s.LDAPSURL, "LDAP_CA": s.CAFile, "LDAP_PASSWORD_FILE": s.ReaderPasswordFile}
	for k, v := range vars {
		ts.Setenv(k, v)
	}
	for _, f := range args {
		path := ts.MkAbs(f)
		b, err := os.ReadFile(path)
		ts.Check(err)
		out := os.Expand(string(b), func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return "$" + k
		})
		ts.Check(os.WriteFile(path, []byte(out), 0o644))
	}
}

// scriptLDIF is the directory the scripts read: the domain "/" in
// ou=people and ou=aliases, and the domain "/mail" with its own aliases.
func scriptLDIF(w io.Writer) error {
	var b []byte
	for _, u := range []ldapgen.User{
		{UID: "root", CN: "Operator", Password: "{CRYPT}*", UIDNumber: 0, GIDNumber: 1, Home: "/", Shell: "/bin/csh"},
		{UID: "jnewberg", CN: "Julia Newberg", Gecos: "Julia Newberg", Password: "{CRYPT}$1$abc$def", UIDNumber: 1001, GIDNumber: 20, Home: "/Users/jnewberg", Shell: "/bin/csh"},
		{UID: "zoe", CN: "Zoë Müller", UIDNumber: 1002, GIDNumber: 20, Home: "/Users/zoe", Shell: "/bin/csh"},
	} {
		b = ldapgen.AppendUser(b, ldapgen.PeopleDN, u)
	}
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "jnewberg", []string{"jnewberg@earth"})
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "zoe", []string{"zoe@venus"})
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "Zoë_Müller", []string{"zoe"})
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "staff", []string{"jnewberg@earth", "zoe@venus", "root", "partner@example.org"})
	b = append(b, "dn: ou=mail,dc=example,dc=org\nobjectClass: organizationalUnit\nou: mail\n\n"...)
	b = append(b, "dn: ou=aliases,ou=mail,dc=example,dc=org\nobjectClass: organizationalUnit\nou: aliases\n\n"...)
	b = ldapgen.AppendAlias(b, "ou=aliases,ou=mail,dc=example,dc=org", "postmaster", []string{"root"})
	_, err := w.Write(b)
	return err
}
