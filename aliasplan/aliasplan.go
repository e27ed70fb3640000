// Package aliasplan turns an assignment of users to mail servers into the
// routing aliases of the article's first step, `jnewberg: jnewberg@earth`,
// written for `niload aliases` or as LDIF nisMailAlias entries for an LDAP
// directory. It is pure: readers in, writers out.
//
// An assignment file has one line per mail server:
//
//	# SERVER: who gets their mail there
//	earth: jnewberg ksmith      # users, by login name
//	venus: @staff @20           # whole groups, by name or gid number
//	earth: *                    # everyone not assigned otherwise
//
// Names are separated by spaces or commas; '#' starts a comment; a server
// may have several lines. A group is every user whose passwd gid is the
// group's (the primary group; a name needs the group file). A user named
// explicitly wins over a group, and a group over '*'. Naming a user (or a
// group, or '*') for two servers is an error. Groups and '*' leave out
// users below the minimum uid (system accounts); a user named explicitly is
// always routed.
package aliasplan

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/peoplesync/peoplesync/nidump"
)

// Assignment is a parsed assignment file.
type Assignment struct {
	// File labels errors.
	File  string
	rules []rule
}

type kind int

const (
	byUser kind = iota
	byGroup
	everyone
)

type rule struct {
	kind   kind
	name   string // user or group (as written, without '@')
	server string
	line   int
}

// ParseAssignment reads an assignment file; name labels errors.
func ParseAssignment(r io.Reader, name string) (*Assignment, error) {
	a := &Assignment{File: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	seen := map[string]rule{} // kind+name -> first rule
	var errs []error
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		server, rest, ok := strings.Cut(line, ":")
		server = strings.TrimSpace(server)
		if !ok || server == "" || strings.ContainsAny(server, " \t@,\"") {
			errs = append(errs, &nidump.ParseError{File: name, Line: n, Err: fmt.Errorf("%q: write `SERVER: user @group ...`, e.g. `earth: jnewberg @staff`", line)})
			continue
		}
		items := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(items) == 0 {
			errs = append(errs, &nidump.ParseError{File: name, Line: n, Err: fmt.Errorf("no users or groups after %q: name some, or remove the line", server+":")})
			continue
		}
		for _, it := range items {
			r := rule{kind: byUser, name: it, server: server, line: n}
			switch {
			case it == "*":
				r.kind = everyone
			case strings.HasPrefix(it, "@"):
				r.kind, r.name = byGroup, it[1:]
				if r.name == "" {
					errs = append(errs, &nidump.ParseError{File: name, Line: n, Err: errors.New("'@' with no group after it: write @staff or @20")})
					continue
				}
			}
			key := fmt.Sprint(r.kind) + "\x00" + r.name
			if first, dup := seen[key]; dup {
				if first.server != r.server {
					errs = append(errs, &nidump.ParseError{File: name, Line: n, Err: fmt.Errorf("%s is assigned to %s here and to %s on line %d: assign it to one server", it, r.server, first.server, first.line)})
				}
				continue
			}
			seen[key] = r
			a.rules = append(a.rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", name, err))
	}
	return a, errors.Join(errs...)
}

// Servers returns the servers the file names, in order of first mention.
func (a *Assignment) Servers() []string {
	var out []string
	for _, r := range a.rules {
		if !slices.Contains(out, r.server) {
			out = append(out, r.server)
		}
	}
	return out
}

// Groups maps group names to gids, as a group(5) file (or `nidump group`
// output) gives them.
type Groups map[string]string

// ParseGroups reads a group(5) file: name:passwd:gid:members lines.
func ParseGroups(r io.Reader, name string) (Groups, error) {
	g := Groups{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" {
			return nil, &nidump.ParseError{File: name, Line: n, Err: fmt.Errorf("%d colon-separated fields, want 4 (name:passwd:gid:members)", len(f))}
		}
		if _, err := strconv.Atoi(f[2]); err != nil {
			return nil, &nidump.ParseError{File: name, Line: n, Err: fmt.Errorf("gid %q of group %s is not a number", f[2], f[0])}
		}
		if _, dup := g[f[0]]; !dup {
			g[f[0]] = f[2]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return g, nil
}

// Route is one routing alias: User's mail goes to Server.
type Route struct {
	User   string
	Server string
}

// Options configure Plan.
type Options struct {
	// Groups resolves @name groups (nil: only gid numbers work).
	Groups Groups
	// MinUID leaves users with a lower uid out of groups and '*'.
	MinUID int
}

// Plan is the outcome of an assignment.
type Plan struct {
	// Routes are the routing aliases, in passwd order.
	Routes []Route
	// Unassigned are the users (uid >= MinUID) no rule assigns.
	Unassigned []string
	// Warnings are rules that matched nobody.
	Warnings []string
}

// Plan assigns each user in users (in passwd order) to a server.
func (a *Assignment) Plan(users []nidump.PasswdEntry, opts Options) (*Plan, error) {
	names := map[string]bool{}
	for _, u := range users {
		names[u.Name] = true
	}
	explicit := map[string]rule{}
	groups := map[string]rule{} // gid -> rule
	var all *rule
	var errs []error
	for i, r := range a.rules {
		switch r.kind {
		case byUser:
			if !names[r.name] {
				errs = append(errs, &nidump.ParseError{File: a.File, Line: r.line, Err: fmt.Errorf("there is no user %s in passwd: fix the name, or remove it", r.name)})
				continue
			}
			explicit[r.name] = r
		case byGroup:
			gid := r.name
			if _, err := strconv.Atoi(gid); err != nil {
				g, ok := opts.Groups[r.name]
				switch {
				case opts.Groups == nil:
					errs = append(errs, &nidump.ParseError{File: a.File, Line: r.line, Err: fmt.Errorf("@%s: a group name needs the group file (--group FILE, e.g. `nidump group /mail` output); or write its gid number, @20", r.name)})
					continue
				case !ok:
					errs = append(errs, &nidump.ParseError{File: a.File, Line: r.line, Err: fmt.Errorf("there is no group %s in the group file: fix the name, or write its gid number", r.name)})
					continue
				}
				gid = g
			}
			if first, dup := groups[gid]; dup && first.server != r.server {
				errs = append(errs, &nidump.ParseError{File: a.File, Line: r.line, Err: fmt.Errorf("@%s (gid %s) is assigned to %s here and to %s on line %d: assign it to one server", r.name, gid, r.server, first.server, first.line)})
				continue
			}
			groups[gid] = r
		case everyone:
			if all != nil && all.server != r.server {
				errs = append(errs, &nidump.ParseError{File: a.File, Line: r.line, Err: fmt.Errorf("* is assigned to %s here and to %s on line %d: assign it to one server", r.server, all.server, all.line)})
				continue
			}
			all = &a.rules[i]
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := &Plan{}
	used := map[string]bool{}
	for _, u := range users {
		system := false
		if uid, err := strconv.Atoi(u.UID); err == nil && uid < opts.MinUID {
			system = true
		}
		var r *rule
		if e, ok := explicit[u.Name]; ok {
			r = &e
		} else if g, ok := groups[u.GID]; ok && !system {
			r = &g
		} else if all != nil && !system {
			r = all
		}
		if r == nil {
			if !system {
				p.Unassigned = append(p.Unassigned, u.Name)
			}
			continue
		}
		used[fmt.Sprint(r.kind)+"\x00"+r.name] = true
		p.Routes = append(p.Routes, Route{User: u.Name, Server: r.server})
	}
	for _, r := range a.rules {
		if r.kind != byUser && !used[fmt.Sprint(r.kind)+"\x00"+r.name] {
			what := "*"
			if r.kind == byGroup {
				what = "@" + r.name
			}
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s:%d: %s assigns nobody to %s", a.File, r.line, what, r.server))
		}
	}
	return p, nil
}

// WriteNiload writes the routes as `user: user@server` lines, for
// `niload aliases DOMAIN`.
func WriteNiload(w io.Writer, routes []Route) error {
	bw := bufio.NewWriter(w)
	for _, r := range routes {
		fmt.Fprintf(bw, "%s: %s@%s\n", r.User, r.User, r.Server)
	}
	return bw.Flush()
}

// WriteLDIF writes the routes as nisMailAlias entries cn=USER,BASE with one
// rfc822MailMember, for ldapadd or slapadd.
func WriteLDIF(w io.Writer, routes []Route, base string) error {
	if _, err := ldap.ParseDN(base); err != nil || !strings.Contains(base, "=") {
		return fmt.Errorf("%q is not a DN: give the aliases' base like ou=aliases,dc=example,dc=com", base)
	}
	bw := bufio.NewWriter(w)
	var b []byte
	for _, r := range routes {
		b = appendAttr(b[:0], "dn", "cn="+ldap.EscapeDN(r.User)+","+base)
		b = append(b, "objectClass: top\nobjectClass: nisMailAlias\n"...)
		b = appendAttr(b, "cn", r.User)
		b = appendAttr(b, "rfc822MailMember", r.User+"@"+r.Server)
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}

// appendAttr appends `name: value`, or `name:: BASE64` when the value is
// not an LDIF SAFE-STRING (RFC 2849).
func appendAttr(b []byte, name, value string) []byte {
	safe := value == "" || (value[0] != ' ' && value[0] != ':' && value[0] != '<' && value[len(value)-1] != ' ')
	for i := 0; safe && i < len(value); i++ {
		if c := value[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			safe = false
		}
	}
	b = append(b, name...)
	if safe {
		b = append(b, ": "...)
		b = append(b, value...)
	} else {
		b = append(b, ":: "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(value))
	}
	return append(b, '\n')
}
