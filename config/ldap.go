package config

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAP is the directory server of [source] kind = "ldap" and the NetInfo
// domains it holds.
type LDAP struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL      string
	StartTLS bool
	// CAFile is a PEM file of CA certificates (default: the system's).
	CAFile string
	// BindDN is empty for an anonymous bind; BindPasswordFile holds the
	// password and is read at run time.
	BindDN           string
	BindPasswordFile string
	// Domain is the NetInfo domain path the jobs dump, a key of Domains.
	Domain  string
	Domains map[string]LDAPDomain
	// Attributes maps RFC 2307 attributes to the directory's names; only
	// the keys set in the config are present: uid, user_password,
	// uid_number, gid_number, gecos, cn, home_directory, login_shell,
	// alias_name and alias_member.
	Attributes map[string]string
	// PasswdForm is 10 (default) or 7 fields.
	PasswdForm int
	// PageSize is the paged-search page size (default 500).
	PageSize int
	// ConnectTimeout (default 10s) bounds connecting, TLS and the bind;
	// RequestTimeout (default 60s) each wait for the server's next answer.
	ConnectTimeout time.Duration
	RequestTimeout time.Duration
}

// LDAPDomain is where one NetInfo domain's users and aliases are in the
// directory: whole-subtree search bases and filters.
type LDAPDomain struct {
	UsersBase     string
	UsersFilter   string
	AliasesBase   string
	AliasesFilter string
}

// Chosen returns the bases of the domain the jobs dump.
func (l *LDAP) Chosen() LDAPDomain { return l.Domains[l.Domain] }

// Defaults of [source] kind = "ldap".
const (
	DefaultLDAPUsersFilter    = "(objectClass=posixAccount)"
	DefaultLDAPAliasesFilter  = "(objectClass=nisMailAlias)"
	DefaultLDAPPageSize       = 500
	DefaultLDAPConnectTimeout = 10 * time.Second
	DefaultLDAPRequestTimeout = 60 * time.Second
)

// attributeKeys are the keys of [source.attributes] and the standard
// attribute each stands for.
var attributeKeys = map[string]string{
	"uid": "uid", "user_password": "userPassword", "uid_number": "uidNumber", "gid_number": "gidNumber",
	"gecos": "gecos", "cn": "cn", "home_directory": "homeDirectory", "login_shell": "loginShell",
	"alias_name": "cn", "alias_member": "rfc822MailMember",
}

// ldapOnlyKeys are the [source] keys only kind = "ldap" uses.
var ldapOnlyKeys = []string{
	"url", "start_tls", "ca_file", "bind_dn", "bind_password_file", "domain", "domains",
	"users_base", "users_filter", "aliases_base", "aliases_filter", "attributes",
	"passwd_form", "page_size", "connect_timeout", "request_timeout",
}

// ldapSource reads the LDAP keys of [source] t. For another kind it only
// reports the LDAP keys present, and returns nil.
func (d *decoder) ldapSource(t table, kind string) *LDAP {
	if kind != "ldap" {
		for _, k := range ldapOnlyKeys {
			d.markKnown(t, k)
			if _, ok := t.m[k]; ok && kind != "" {
				d.problem(t.key(k), `only used with kind = "ldap": remove it, or set kind = "ldap"`)
			}
		}
		return nil
	}
	for _, k := range []string{"passwd", "aliases", "passwd_command", "aliases_command", "format"} {
		if _, ok := t.m[k]; ok {
			d.problem(t.key(k), `not used with kind = "ldap": remove it (the directory is read over LDAP)`)
		}
	}
	if _, ok := t.m["bind_password"]; ok {
		d.markKnown(t, "bind_password")
		d.problem(t.key("bind_password"), "never put the password in the config: write it alone in a file only peoplesync's user can read (chmod 600) and name the file with bind_password_file")
	}
	l := &LDAP{PasswdForm: 10, PageSize: DefaultLDAPPageSize, ConnectTimeout: DefaultLDAPConnectTimeout, RequestTimeout: DefaultLDAPRequestTimeout}

	scheme := ""
	if d.str(t, "url", &l.URL) {
		u, err := url.Parse(l.URL)
		switch {
		case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" || u.Hostname() == "":
			d.problem(t.key("url"), `%q: want ldap://HOST[:PORT] or ldaps://HOST[:PORT], e.g. "ldaps://ldap.example.com"`, l.URL)
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
			d.problem(t.key("url"), `%q: give only the scheme, host and port; the bases go in users_base and aliases_base`, l.URL)
		default:
			scheme = u.Scheme
		}
	} else {
		d.required(t, "url", `the directory server, e.g. url = "ldaps://ldap.example.com"`)
	}
	if d.boolean(t, "start_tls", &l.StartTLS) && l.StartTLS && scheme == "ldaps" {
		d.problem(t.key("start_tls"), "an ldaps:// url is TLS already: remove start_tls, or use an ldap:// url")
	}
	d.path(t, "ca_file", &l.CAFile)
	if d.str(t, "bind_dn", &l.BindDN) {
		d.dn(t, "bind_dn", l.BindDN)
	}
	hasPW := d.path(t, "bind_password_file", &l.BindPasswordFile)
	switch {
	case l.BindDN != "" && !hasPW:
		d.required(t, "bind_password_file", `the file holding bind_dn's password (mode 0600), e.g. bind_password_file = "/etc/peoplesync/ldap.password"`)
	case l.BindDN == "" && hasPW:
		d.problem(t.key("bind_password_file"), "set bind_dn too: with no bind_dn the bind is anonymous and needs no password")
	}
	var form int
	if d.integer(t, "passwd_form", &form, 7, 10) {
		if form != 7 && form != 10 {
			d.problem(t.key("passwd_form"), "%d: use 10 (name:passwd:uid:gid:class:change:expire:realname:home:shell) or 7 (name:passwd:uid:gid:realname:home:shell)", form)
		} else {
			l.PasswdForm = form
		}
	}
	d.integer(t, "page_size", &l.PageSize, 1, 100000)
	d.duration(t, "connect_timeout", &l.ConnectTimeout)
	d.duration(t, "request_timeout", &l.RequestTimeout)
	l.Attributes = d.ldapAttributes(d.sub(t, "attributes"))

	// Filters at the top level are the default of every domain.
	def := LDAPDomain{UsersFilter: DefaultLDAPUsersFilter, AliasesFilter: DefaultLDAPAliasesFilter}
	d.filter(t, "users_filter", &def.UsersFilter)
	d.filter(t, "aliases_filter", &def.AliasesFilter)

	l.Domains = map[string]LDAPDomain{}
	domains := d.sub(t, "domains")
	if domains.m == nil {
		// One domain, "/", from the bases at the top level.
		dom := def
		if !d.dn(t, "users_base", d.strOK(t, "users_base", &dom.UsersBase)) {
			d.required(t, "users_base", `where the users are, e.g. users_base = "ou=people,dc=example,dc=com" (or name several NetInfo domains in [source.domains."/mail"] tables)`)
		}
		if !d.dn(t, "aliases_base", d.strOK(t, "aliases_base", &dom.AliasesBase)) {
			d.required(t, "aliases_base", `where the mail aliases are, e.g. aliases_base = "ou=aliases,dc=example,dc=com"`)
		}
		l.Domains["/"] = dom
	} else {
		for _, k := range []string{"users_base", "aliases_base"} {
			d.markKnown(t, k)
			if _, ok := t.m[k]; ok {
				d.problem(t.key(k), `with [source.domains] tables each domain names its own bases: move it into the [source.domains."/"] table`)
			}
		}
		names := make([]string, 0, len(domains.m))
		for name := range domains.m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			dt := d.sub(domains, name)
			if dt.m == nil {
				continue
			}
			if !netinfoPath.MatchString(name) {
				d.problem(dt.path, `%q is not a NetInfo domain path: write it like "/" or "/mail" (quoted: [source.domains."/mail"])`, name)
				continue
			}
			dom := def
			if !d.dn(dt, "users_base", d.strOK(dt, "users_base", &dom.UsersBase)) {
				d.required(dt, "users_base", `where the domain's users are, e.g. users_base = "ou=people,dc=example,dc=com"`)
			}
			if !d.dn(dt, "aliases_base", d.strOK(dt, "aliases_base", &dom.AliasesBase)) {
				d.required(dt, "aliases_base", `where the domain's mail aliases are, e.g. aliases_base = "ou=aliases,ou=mail,dc=example,dc=com"`)
			}
			d.filter(dt, "users_filter", &dom.UsersFilter)
			d.filter(dt, "aliases_filter", &dom.AliasesFilter)
			l.Domains[name] = dom
		}
		if len(domains.m) == 0 {
			d.problem(domains.path, `name at least one domain: [source.domains."/"] with users_base and aliases_base`)
		}
	}

	known := make([]string, 0, len(l.Domains))
	for name := range l.Domains {
		known = append(known, name)
	}
	sort.Strings(known)
	if d.str(t, "domain", &l.Domain) {
		if _, ok := l.Domains[l.Domain]; !ok && len(known) > 0 {
			d.problem(t.key("domain"), "%q is not a configured domain: use one of %s", l.Domain, quoteList(known))
		}
	} else if len(known) == 1 {
		l.Domain = known[0]
	} else if len(known) > 1 {
		d.required(t, "domain", fmt.Sprintf("which NetInfo domain the jobs dump: one of %s", quoteList(known)))
	}
	return l
}

// netinfoPath is an absolute NetInfo domain path: "/", "/mail", "/a/b".
var netinfoPath = regexp.MustCompile(`^/([^/\s]+(/[^/\s]+)*)?$`)

// attrName is an LDAP attribute description: a name or an OID, options
// allowed.
var attrName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

func (d *decoder) ldapAttributes(t table) map[string]string {
	if t.m == nil {
		return nil
	}
	out := map[string]string{}
	keys := make([]string, 0, len(attributeKeys))
	for k := range attributeKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v string
		if !d.str(t, k, &v) {
			continue
		}
		if !attrName.MatchString(v) {
			d.problem(t.key(k), "%q is not an LDAP attribute name (like %q)", v, attributeKeys[k])
			continue
		}
		out[k] = v
	}
	return out
}

// strOK reads a string key and returns its value ("" when absent or wrong).
func (d *decoder) strOK(t table, key string, dst *string) string {
	if d.str(t, key, dst) {
		return *dst
	}
	return ""
}

// dn checks that the value of t.key, if not empty, is a DN; it reports
// whether there is a good DN.
func (d *decoder) dn(t table, key, value string) bool {
	if value == "" {
		if _, present := t.m[key]; present {
			if _, isStr := t.m[key].(string); isStr {
				d.problem(t.key(key), "empty DN: give a DN like \"ou=people,dc=example,dc=com\"")
			}
		}
		return false
	}
	if _, err := ldap.ParseDN(value); err != nil || !strings.Contains(value, "=") {
		d.problem(t.key(key), "%q is not a DN: write it like \"ou=people,dc=example,dc=com\"", value)
		return false
	}
	return true
}

// filter reads an LDAP search filter, checking its syntax.
func (d *decoder) filter(t table, key string, dst *string) {
	var f string
	if !d.str(t, key, &f) {
		return
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		d.problem(t.key(key), "%q is not an LDAP filter (%v): write it like \"(&(objectClass=posixAccount)(uidNumber>=100))\"", f, err)
		return
	}
	*dst = f
}
