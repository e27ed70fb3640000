// Package ldapgen writes LDIF for test and benchmark directories: RFC 2307
// posixAccount users and nisMailAlias aliases, fast enough to generate
// 100,000 entries in a blink, with values base64-encoded where LDIF needs
// it (non-ASCII, leading space or colon).
package ldapgen

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
)

// The containers the entries go in (slapd's base entries in testpeer).
const (
	PeopleDN  = "ou=people,dc=example,dc=org"
	AliasesDN = "ou=aliases,dc=example,dc=org"
)

// User is one posixAccount.
type User struct {
	UID, CN, Gecos, Password string
	UIDNumber, GIDNumber     int
	Home, Shell              string
}

// AppendUser appends u as an LDIF entry under base, ending with a blank
// line.
func AppendUser(b []byte, base string, u User) []byte {
	b = AppendAttr(b, "dn", "uid="+u.UID+","+base)
	b = append(b, "objectClass: account\nobjectClass: posixAccount\n"...)
	b = AppendAttr(b, "uid", u.UID)
	b = AppendAttr(b, "cn", u.CN)
	if u.Gecos != "" {
		b = AppendAttr(b, "gecos", u.Gecos)
	}
	if u.Password != "" {
		b = AppendAttr(b, "userPassword", u.Password)
	}
	b = append(b, "uidNumber: "...)
	b = strconv.AppendInt(b, int64(u.UIDNumber), 10)
	b = append(b, "\ngidNumber: "...)
	b = strconv.AppendInt(b, int64(u.GIDNumber), 10)
	b = append(b, '\n')
	b = AppendAttr(b, "homeDirectory", u.Home)
	if u.Shell != "" {
		b = AppendAttr(b, "loginShell", u.Shell)
	}
	return append(b, '\n')
}

// AppendAlias appends a nisMailAlias entry cn=name under base, one
// rfc822MailMember per member, ending with a blank line.
func AppendAlias(b []byte, base, name string, members []string) []byte {
	b = AppendAttr(b, "dn", "cn="+name+","+base)
	b = append(b, "objectClass: nisMailAlias\nobjectClass: top\n"...)
	b = AppendAttr(b, "cn", name)
	for _, m := range members {
		b = AppendAttr(b, "rfc822MailMember", m)
	}
	return append(b, '\n')
}

// AppendAttr appends one `name: value` line, or `name:: BASE64` when the
// value is not an LDIF SAFE-STRING (RFC 2849).
func AppendAttr(b []byte, name, value string) []byte {
	b = append(b, name...)
	if safe(value) {
		b = append(b, ':', ' ')
		b = append(b, value...)
	} else {
		b = append(b, ':', ':', ' ')
		b = base64.StdEncoding.AppendEncode(b, []byte(value))
	}
	return append(b, '\n')
}

func safe(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

// Name returns the i-th generated login name, user0000042.
func Name(i int) string { return fmt.Sprintf("user%07d", i) }

// Directory describes a generated directory.
type Directory struct {
	Users   int      // posixAccounts user0000000 ...
	Aliases int      // nisMailAliases: a routing alias per user, then lists
	Members int      // members of each list (default 20)
	Servers []string // the mail servers users are routed to (default earth, venus)
}

// WriteLDIF writes the users under PeopleDN and the aliases under
// AliasesDN: the first Users aliases route user N to a server
// (`user0000042: user0000042@venus`), the rest are lists of Members users.
func (d Directory) WriteLDIF(w io.Writer) error {
	servers := d.Servers
	if len(servers) == 0 {
		servers = []string{"earth", "venus"}
	}
	members := d.Members
	if members <= 0 {
		members = 20
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var b []byte
	for i := range d.Users {
		name := Name(i)
		b = AppendUser(b[:0], PeopleDN, User{
			UID: name, CN: fmt.Sprintf("User %d", i), Gecos: fmt.Sprintf("User %07d", i),
			Password: fmt.Sprintf("{CRYPT}$1$%08x$abcdefghijklmnopqrstuv", i), UIDNumber: 1000 + i, GIDNumber: 20 + i%3,
			Home: "/Users/" + name, Shell: "/bin/csh",
		})
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	list := make([]string, members)
	for i := range d.Aliases {
		if i < d.Users {
			name := Name(i)
			b = AppendAlias(b[:0], AliasesDN, name, []string{name + "@" + servers[i%len(servers)]})
		} else {
			for k := range list {
				list[k] = Name((i*7 + k*13) % max(d.Users, 1))
			}
			b = AppendAlias(b[:0], AliasesDN, fmt.Sprintf("list%07d", i), list)
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
