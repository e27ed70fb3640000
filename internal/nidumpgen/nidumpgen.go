// Package nidumpgen writes `nidump aliases` and `nidump passwd` output the
// way nidump does, long aliases wrapped by its exact rule, for tests,
// benchmarks and the demo's example domain.
package nidumpgen

import (
	"bufio"
	"fmt"
	"io"
)

// MaxLineLen is nidump's MAXLINELEN.
const MaxLineLen = 72

// AppendAlias appends one alias as nidump prints it: `NAME: ` then the
// members joined by "," with no space; before a member that would take the
// line past 72 columns it prints "\n\t" and restarts the count at the
// member's length plus 8 (a tab counts as 8 columns). The last line ends
// with "\n".
func AppendAlias(b []byte, name string, members []string) []byte {
	b = append(b, name...)
	b = append(b, ':', ' ')
	col := len(name) + 2
	for i, m := range members {
		n := len(m)
		if i < len(members)-1 {
			n++ // the comma
		}
		if col+n > MaxLineLen {
			b = append(b, '\n', '\t')
			col = 8
		}
		b = append(b, m...)
		if i < len(members)-1 {
			b = append(b, ',')
		}
		col += n
	}
	return append(b, '\n')
}

// Domain describes a generated mail domain.
type Domain struct {
	Users   int      // users, each with a routing alias to a mail server
	Lists   int      // mailing lists, members drawn from the users
	Members int      // members per list
	Servers []string // mail servers users are routed to
}

// WriteAliases writes the domain's aliases: every user's routing alias
// (`user0001: user0001@earth`), a "Full_Name: user" alias, and lists whose
// members mix plain users, user@server and outside addresses, wrapped as
// nidump wraps them. It returns the number of entries written.
func (d Domain) WriteAliases(w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 256*1024)
	var b []byte
	n := 0
	for i := 0; i < d.Users; i++ {
		u := user(i)
		b = AppendAlias(b[:0], u, []string{u + "@" + d.Servers[i%len(d.Servers)]})
		b = AppendAlias(b, fmt.Sprintf("User_%07d", i), []string{u})
		n += 2
		if _, err := bw.Write(b); err != nil {
			return n, err
		}
	}
	members := make([]string, d.Members)
	for l := 0; l < d.Lists; l++ {
		for k := range members {
			u := user((l*7 + k*13) % max(d.Users, 1))
			switch k % 3 {
			case 0:
				members[k] = u
			case 1:
				members[k] = u + "@" + d.Servers[k%len(d.Servers)]
			default:
				members[k] = u + "@partner.example.org"
			}
		}
		b = AppendAlias(b[:0], fmt.Sprintf("list%06d", l), members)
		n++
		if _, err := bw.Write(b); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// WritePasswd writes the domain's users in nidump's 10-field form.
func (d Domain) WritePasswd(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256*1024)
	for i := 0; i < d.Users; i++ {
		u := user(i)
		fmt.Fprintf(bw, "%s:$1$%08x$abcdefghijklmnopqrstuv:%d:20::0:0:User %07d:/Users/%s:/bin/csh\n", u, i, 1000+i, i, u)
	}
	return bw.Flush()
}

func user(i int) string { return fmt.Sprintf("user%07d", i) }
