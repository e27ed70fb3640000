// Package aliaslint checks a mail domain's alias plan against its users
// and mail servers: the routing aliases (`jnewberg: jnewberg@earth`) that
// send each user's mail to one server, and the aliases and lists built on
// them. It reports what the article asks admins to "type carefully, and
// double-check": users no alias routes, users routed twice, routes to hosts
// that are not mail servers, loops, members that name nobody, duplicate
// names and names that need quoting. It is pure: records in, problems out.
package aliaslint

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/nidump"
)

// Check names a kind of problem.
type Check string

// The checks.
const (
	// NoRoute is a user (uid >= MinUID) with no routing alias to a mail
	// server.
	NoRoute Check = "no-route"
	// TwoServers is a user routed to more than one mail server.
	TwoServers Check = "two-servers"
	// UnknownServer is a routing alias (`name: name@HOST`) to a HOST that
	// looks like one of the site's hosts but is not a mail server.
	UnknownServer Check = "unknown-server"
	// Loop is a set of aliases that expand into each other, or an alias
	// that includes itself with no user of that name to deliver to.
	Loop Check = "loop"
	// NoSuchUser is a member naming a local user that does not exist and
	// is not an alias either.
	NoSuchUser Check = "no-such-user"
	// Duplicate is an alias name defined more than once (names are
	// compared case-insensitively, as MTAs fold them).
	Duplicate Check = "duplicate"
	// NeedsQuoting is a name or member that an aliases(5) reader would
	// misread unless it is double-quoted.
	NeedsQuoting Check = "needs-quoting"
)

// Problem is one thing wrong with the plan.
type Problem struct {
	Check Check
	// File labels where the entry was read (the passwd or aliases source);
	// Line is its line there, 0 when not known (an LDAP directory).
	File string
	Line int
	// Entry is the entry at fault: "alias staff" or "user jnewberg".
	Entry string
	// Msg says what is wrong and how to fix it.
	Msg string
}

func (p Problem) String() string {
	where := p.File
	if p.Line > 0 {
		where += ":" + strconv.Itoa(p.Line)
	}
	return fmt.Sprintf("%s: %s: %s [%s]", where, p.Entry, p.Msg, p.Check)
}

// Options configure a Checker.
type Options struct {
	// MailServers are the mail servers' host names, matched as aliasfmt
	// matches them. With none, the routing checks are skipped.
	MailServers []string
	// MinUID exempts users with a lower uid (system accounts) from needing
	// a routing alias. A uid that is not a number never exempts.
	MinUID int
	// PasswdFile and AliasesFile label the problems' entries.
	PasswdFile, AliasesFile string
}

type user struct {
	name string
	uid  int // -1 when not a number
	line int
}

type alias struct {
	name    string // as written
	key     string // folded
	members []string
	line    int
}

// Checker collects the users and aliases, then checks them. Add every
// record first, then call Problems.
type Checker struct {
	opts    Options
	servers []server
	users   []user
	aliases []alias
}

type server struct {
	name string
	s    *aliasfmt.Stripper
}

// New returns a Checker.
func New(opts Options) (*Checker, error) {
	c := &Checker{opts: opts}
	for _, name := range opts.MailServers {
		s, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: []string{name}})
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, server{name: strings.ToLower(strings.TrimSuffix(name, ".")), s: s})
	}
	return c, nil
}

// AddUser adds a passwd entry.
func (c *Checker) AddUser(e nidump.PasswdEntry) {
	uid, err := strconv.Atoi(e.UID)
	if err != nil {
		uid = -1
	}
	c.users = append(c.users, user{name: e.Name, uid: uid, line: e.Line})
}

// AddAlias adds an alias.
func (c *Checker) AddAlias(a nidump.Alias) {
	c.aliases = append(c.aliases, alias{name: a.Name, key: fold(a.Name), members: a.Members, line: a.Line})
}

// fold is how MTAs compare alias names and local parts: case-insensitively,
// quotes aside.
func fold(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return strings.ToLower(s)
}

// serverOf returns the configured mail server host names, or "".
func (c *Checker) serverOf(host string) string {
	for _, s := range c.servers {
		if s.s.IsServer(host) {
			return s.name
		}
	}
	return ""
}

// local classifies a member: a plain local name (jnewberg, \root) gives
// (name, ""); local@host gives (local, host); programs, files, includes,
// quoted and display-name members give ok = false.
func local(member string) (name, host string, ok bool) {
	m := strings.TrimPrefix(member, `\`)
	if m == "" || strings.ContainsAny(m, " \t<>\"()") {
		return "", "", false
	}
	switch m[0] {
	case '|', '/', ':':
		return "", "", false
	}
	at := strings.LastIndexByte(m, '@')
	switch {
	case at < 0:
		return m, "", true
	case at == 0 || at == len(m)-1:
		return "", "", false
	}
	return m[:at], m[at+1:], true
}

// Problems runs every check and returns the problems, in file and line
// order.
func (c *Checker) Problems() []Problem {
	var out []Problem
	users := map[string]*user{}
	for i := range c.users {
		u := &c.users[i]
		if _, dup := users[fold(u.name)]; !dup {
			users[fold(u.name)] = u
		}
	}
	aliases := map[string]*alias{}
	for i := range c.aliases {
		a := &c.aliases[i]
		if first, dup := aliases[a.key]; dup {
			out = append(out, c.aliasProblem(Duplicate, a, fmt.Sprintf("is defined again (first at %s): mail programs use only one of them; merge the members into one entry", c.where(c.opts.AliasesFile, first.line, first.name))))
			continue
		}
		aliases[a.key] = a
	}
	out = append(out, c.quoting()...)
	out = append(out, c.members(users, aliases)...)
	out = append(out, c.routes(users)...)
	out = append(out, c.loops(users, aliases)...)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Entry, b.Entry), cmp.Compare(a.Check, b.Check))
	})
	return out
}

func (c *Checker) where(file string, line int, name string) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return fmt.Sprintf("%s, %s", file, name)
}

func (c *Checker) aliasProblem(check Check, a *alias, msg string) Problem {
	return Problem{Check: check, File: c.opts.AliasesFile, Line: a.line, Entry: "alias " + a.name, Msg: msg}
}

// quoting reports names and members an aliases(5) reader would misread.
func (c *Checker) quoting() []Problem {
	var out []Problem
	for i := range c.aliases {
		a := &c.aliases[i]
		quoted := len(a.name) >= 2 && a.name[0] == '"' && a.name[len(a.name)-1] == '"'
		if !quoted && strings.ContainsAny(a.name, " \t#:@,\"") {
			out = append(out, c.aliasProblem(NeedsQuoting, a, fmt.Sprintf("the name %q holds a space, '#', ':', '@', ',' or '\"': write it in double quotes, or rename the alias", a.name)))
		}
		for _, m := range a.members {
			switch {
			case commaOutsideQuotes(m):
				out = append(out, c.aliasProblem(NeedsQuoting, a, fmt.Sprintf("the member %q holds a comma, so every reader of the aliases file splits it in two: quote it or fix it in the domain", m)))
			case m[0] == '|' && strings.ContainsAny(m, " \t"):
				out = append(out, c.aliasProblem(NeedsQuoting, a, fmt.Sprintf("the program member %q holds a space: write it in double quotes, \"%s\"", m, m)))
			}
		}
	}
	return out
}

func commaOutsideQuotes(s string) bool {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			in = !in
		case ',':
			if !in {
				return true
			}
		}
	}
	return false
}

// members reports members that name a local user that does not exist.
func (c *Checker) members(users map[string]*user, aliases map[string]*alias) []Problem {
	var out []Problem
	for i := range c.aliases {
		a := &c.aliases[i]
		for _, m := range a.members {
			name, host, ok := local(m)
			if !ok || (host != "" && c.serverOf(host) == "") {
				continue
			}
			k := fold(name)
			if users[k] != nil || aliases[k] != nil {
				continue
			}
			what := "local"
			if host != "" {
				what = "on mail server " + host
			}
			out = append(out, c.aliasProblem(NoSuchUser, a, fmt.Sprintf("the member %q names no user (%s) and no alias %s: fix the name, or remove the member", m, what, name)))
		}
	}
	return out
}

// routes reports users with no route, or two, and routes to hosts that
// are not mail servers.
func (c *Checker) routes(users map[string]*user) []Problem {
	if len(c.servers) == 0 {
		return nil
	}
	var out []Problem
	routed := map[string][]string{} // user key -> servers, in order
	misrouted := map[string]bool{}  // user key -> has a route to a non-server
	for i := range c.aliases {
		a := &c.aliases[i]
		for _, m := range a.members {
			name, host, ok := local(m)
			if !ok || host == "" || fold(name) != a.key {
				continue
			}
			if s := c.serverOf(host); s != "" {
				if !slices.Contains(routed[a.key], s) {
					routed[a.key] = append(routed[a.key], s)
				}
				continue
			}
			if c.siteHost(host) {
				misrouted[a.key] = true
				out = append(out, c.aliasProblem(UnknownServer, a, fmt.Sprintf("routes %s to %s, which is not a mail server (%s): fix the host, or add it to [people] mail_servers", name, host, strings.Join(c.opts.MailServers, ", "))))
			}
		}
	}
	for i := range c.users {
		u := &c.users[i]
		k := fold(u.name)
		if users[k] != u {
			continue // a second passwd entry of the same name
		}
		servers := routed[k]
		switch {
		case len(servers) > 1:
			out = append(out, Problem{Check: TwoServers, File: c.opts.PasswdFile, Line: u.line, Entry: "user " + u.name,
				Msg: fmt.Sprintf("is routed to %d mail servers (%s): keep one routing alias", len(servers), strings.Join(servers, " and "))})
		case len(servers) == 0 && !misrouted[k] && (u.uid < 0 || u.uid >= c.opts.MinUID):
			out = append(out, Problem{Check: NoRoute, File: c.opts.PasswdFile, Line: u.line, Entry: "user " + u.name,
				Msg: fmt.Sprintf("has no routing alias (%s: %s@SERVER), so no mail server delivers its mail: add one (peoplesync aliases generate writes them)", u.name, u.name)})
		}
	}
	return out
}

// siteHost reports whether host looks like one of the site's own hosts:
// a name with no dots, or one in the domain of a mail server given with
// dots. Other hosts (example.org) are forwards, not routes.
func (c *Checker) siteHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	dot := strings.IndexByte(host, '.')
	if dot < 0 {
		return true
	}
	for _, s := range c.opts.MailServers {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if i := strings.IndexByte(s, '.'); i >= 0 && s[i:] == host[dot:] {
			return true
		}
	}
	return false
}

// loops reports sets of aliases that expand into each other. A member
// names an alias when it is its plain name, or name@SERVER (delivered on
// a mail server, where the same aliases apply).
func (c *Checker) loops(users map[string]*user, aliases map[string]*alias) []Problem {
	// The graph over the first definition of each alias.
	var nodes []*alias
	index := map[string]int{}
	for i := range c.aliases {
		a := &c.aliases[i]
		if aliases[a.key] == a {
			index[a.key] = len(nodes)
			nodes = append(nodes, a)
		}
	}
	edges := make([][]int, len(nodes))
	var out []Problem
	for i, a := range nodes {
		self := false
		for _, m := range a.members {
			if strings.HasPrefix(m, `\`) {
				continue // \name: delivered locally, never aliased
			}
			name, host, ok := local(m)
			if !ok || (host != "" && c.serverOf(host) == "") {
				continue
			}
			j, isAlias := index[fold(name)]
			if !isAlias {
				continue
			}
			if j == i {
				self = true
				continue
			}
			if !slices.Contains(edges[i], j) {
				edges[i] = append(edges[i], j)
			}
		}
		// An alias that includes itself delivers to the user of that name;
		// with no such user the mail has nowhere to go.
		if self && users[a.key] == nil {
			out = append(out, c.aliasProblem(Loop, a, fmt.Sprintf("includes itself and there is no user %s to deliver to: remove the member, or write it \\%s", a.name, a.name)))
		}
	}
	for _, scc := range stronglyConnected(edges) {
		if len(scc) < 2 {
			continue
		}
		start := slices.MinFunc(scc, func(x, y int) int { return cmp.Compare(x, y) })
		path := cycle(edges, scc, start)
		names := make([]string, len(path))
		for i, n := range path {
			names[i] = nodes[n].name
		}
		out = append(out, c.aliasProblem(Loop, nodes[start], fmt.Sprintf("alias loop %s: mail to any of them bounces (\"aliasing/forwarding loop broken\"); break the loop", strings.Join(names, " -> "))))
	}
	return out
}

// stronglyConnected returns the strongly connected components of a graph
// (Tarjan's algorithm, iterative so that a long chain of aliases cannot
// exhaust the stack).
func stronglyConnected(edges [][]int) [][]int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var out [][]int
	var comp []int
	next := 0
	type frame struct{ v, e int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		comp = append(comp, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(edges[f.v]) {
				w := edges[f.v][f.e]
				f.e++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					comp = append(comp, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var scc []int
				for {
					w := comp[len(comp)-1]
					comp = comp[:len(comp)-1]
					onStack[w] = false
					scc = append(scc, w)
					if w == v {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}

// cycle returns a shortest cycle through start within scc, start first
// and last.
func cycle(edges [][]int, scc []int, start int) []int {
	in := map[int]bool{}
	for _, v := range scc {
		in[v] = true
	}
	prev := map[int]int{}
	queue := []int{start}
	seen := map[int]bool{start: true}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range edges[v] {
			if !in[w] {
				continue
			}
			if w == start {
				path := []int{start}
				for x := v; x != start; x = prev[x] {
					path = append(path, x)
				}
				path = append(path, start)
				slices.Reverse(path[1 : len(path)-1])
				return path
			}
			if !seen[w] {
				seen[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{start, start}
}
