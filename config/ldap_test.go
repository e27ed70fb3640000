package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/config"
)

func TestLDAPSource(t *testing.T) {
	c, err := config.Parse("/etc/peoplesync/peoplesync.toml", []byte(`
[source]
kind = "ldap"
url = "ldap://ldap.example.com"
start_tls = true
ca_file = "ldap-ca.pem"
bind_dn = "cn=peoplesync,ou=services,dc=example,dc=com"
bind_password_file = "/etc/peoplesync/ldap.password"
domain = "/mail"
users_filter = "(&(objectClass=posixAccount)(uidNumber>=100))"
timeout = "2m"
connect_timeout = "5s"
request_timeout = "30s"
page_size = 1000
passwd_form = 7

[source.domains."/"]
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,dc=example,dc=com"

[source.domains."/mail"]
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,ou=mail,dc=example,dc=com"
aliases_filter = "(objectClass=mailGroup)"

[source.attributes]
gecos = "displayName"
alias_member = "mail"

[people]
dir = "/LocalLibrary/Images/People"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Source{Kind: "ldap", Timeout: 2 * time.Minute, LDAP: &config.LDAP{
		URL: "ldap://ldap.example.com", StartTLS: true, CAFile: "/etc/peoplesync/ldap-ca.pem",
		BindDN: "cn=peoplesync,ou=services,dc=example,dc=com", BindPasswordFile: "/etc/peoplesync/ldap.password",
		Domain: "/mail",
		Domains: map[string]config.LDAPDomain{
			"/": {UsersBase: "ou=people,dc=example,dc=com", UsersFilter: "(&(objectClass=posixAccount)(uidNumber>=100))",
				AliasesBase: "ou=aliases,dc=example,dc=com", AliasesFilter: "(objectClass=nisMailAlias)"},
			"/mail": {UsersBase: "ou=people,dc=example,dc=com", UsersFilter: "(&(objectClass=posixAccount)(uidNumber>=100))",
				AliasesBase: "ou=aliases,ou=mail,dc=example,dc=com", AliasesFilter: "(objectClass=mailGroup)"},
		},
		Attributes: map[string]string{"gecos": "displayName", "alias_member": "mail"},
		PasswdForm: 7, PageSize: 1000, ConnectTimeout: 5 * time.Second, RequestTimeout: 30 * time.Second,
	}}
	if !reflect.DeepEqual(c.Source, want) {
		t.Errorf("got  %+v\n     %+v\nwant %+v\n     %+v", c.Source, *c.Source.LDAP, want, *want.LDAP)
	}
	if got := c.Source.LDAP.Chosen().AliasesBase; got != "ou=aliases,ou=mail,dc=example,dc=com" {
		t.Errorf("chosen domain's aliases base %q", got)
	}
}

// With no [source.domains] the bases at the top level are the domain "/",
// and every default applies.
func TestLDAPSourceOneDomain(t *testing.T) {
	c, err := config.Parse("p.toml", []byte(`[source]
kind = "ldap"
url = "ldaps://ldap.example.com:1636"
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,dc=example,dc=com"
[people]
dir = "/P"
`))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Source.LDAP
	if l.Domain != "/" || l.Chosen().UsersFilter != "(objectClass=posixAccount)" || l.Chosen().AliasesFilter != "(objectClass=nisMailAlias)" ||
		l.PasswdForm != 10 || l.PageSize != 500 || l.ConnectTimeout != 10*time.Second || l.RequestTimeout != time.Minute || l.BindDN != "" {
		t.Errorf("defaults not applied: %+v", l)
	}
}

func TestLDAPSourceProblems(t *testing.T) {
	doc := `[source]
kind = "ldap"
url = "ldaps://ldap.example.com/dc=example"
start_tls = true
bind_dn = "not a dn"
bind_password = "hunter2"
domain = "/nowhere"
users_filter = "(objectClass=posixAccount"
passwd_form = 8
passwd = "/x"
users_base = "ou=people,dc=example,dc=com"

[source.domains."/"]
aliases_base = "ou=aliases,dc=example,dc=com"

[source.domains."mail"]
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,dc=example,dc=com"

[source.attributes]
gecos = "display name"
mail = "mail"

[people]
dir = "/P"
`
	_, err := config.Parse("p.toml", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`p.toml:3: source.url: "ldaps://ldap.example.com/dc=example": give only the scheme, host and port`,
		`p.toml:5: source.bind_dn: "not a dn" is not a DN`,
		`p.toml:6: source.bind_password: never put the password in the config`,
		`source.bind_password_file: required key is missing: the file holding bind_dn's password`,
		`p.toml:7: source.domain: "/nowhere" is not a configured domain: use one of "/"`,
		`p.toml:8: source.users_filter: "(objectClass=posixAccount" is not an LDAP filter`,
		`p.toml:9: source.passwd_form: 8: use 10`,
		`p.toml:10: source.passwd: not used with kind = "ldap"`,
		`p.toml:11: source.users_base: with [source.domains] tables each domain names its own bases`,
		`p.toml:13: source.domains./.users_base: required key is missing`,
		`p.toml:16: source.domains.mail: "mail" is not a NetInfo domain path`,
		`p.toml:21: source.attributes.gecos: "display name" is not an LDAP attribute name (like "gecos")`,
		`p.toml:22: source.attributes.mail: unknown key`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("the password is in the error:\n%s", msg)
	}
	// start_tls is only wrong with a good ldaps:// url.
	if n := len(err.(*config.Error).Problems); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), msg)
	}
}

func TestLDAPSourceMoreProblems(t *testing.T) {
	_, err := config.Parse("p.toml", []byte(`[source]
kind = "ldap"
url = "ldaps://ldap.example.com"
start_tls = true
bind_password_file = "pw"
[source.domains."/"]
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,dc=example,dc=com"
[source.domains."/mail"]
users_base = "ou=people,dc=example,dc=com"
aliases_base = "ou=aliases,dc=example,dc=com"
[people]
dir = "/P"
`))
	for _, w := range []string{
		`p.toml:4: source.start_tls: an ldaps:// url is TLS already`,
		`p.toml:5: source.bind_password_file: set bind_dn too`,
		`source.domain: required key is missing: which NetInfo domain the jobs dump: one of "/" or "/mail"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestLDAPKeysWithOtherKinds(t *testing.T) {
	_, err := config.Parse("p.toml", []byte("[source]\nkind = \"files\"\npasswd = \"p\"\naliases = \"a\"\nurl = \"ldap://x\"\nformat = \"raw\"\n[people]\ndir = \"/P\"\n"))
	if err == nil || !strings.Contains(err.Error(), `p.toml:5: source.url: only used with kind = "ldap"`) || strings.Contains(err.Error(), "format") {
		t.Errorf("error = %v", err)
	}
	c, err := config.Parse("p.toml", []byte("[source]\nkind = \"command\"\npasswd_command = [\"nidump\", \"-r\", \"/users\", \"/\"]\naliases_command = [\"nidump\", \"-r\", \"/aliases\", \"/\"]\nformat = \"raw\"\n[people]\ndir = \"/P\"\n"))
	if err != nil || c.Source.Format != "raw" || c.Source.LDAP != nil {
		t.Errorf("raw command source: %+v, %v", c, err)
	}
	_, err = config.Parse("p.toml", []byte("[source]\nkind = \"command\"\npasswd_command = [\"a\"]\naliases_command = [\"b\"]\nformat = \"xml\"\n[people]\ndir = \"/P\"\n"))
	if err == nil || !strings.Contains(err.Error(), `p.toml:5: source.format: "xml" is not one of "nidump" or "raw"`) {
		t.Errorf("error = %v", err)
	}
}

func TestLDAPExample(t *testing.T) {
	c, err := config.Load("../examples/ldap.toml")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Source.LDAP; l == nil || l.Domain != "/mail" || l.Chosen().AliasesBase != "ou=aliases,ou=mail,dc=example,dc=com" {
		t.Errorf("examples/ldap.toml: %+v", c.Source)
	}
}
