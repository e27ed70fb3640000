// Package aliasfmt turns a mail domain's aliases into the People directory's
// form: long aliases that nidump wrapped over several lines joined into one
// line each, normalized, and the per-user routing aliases that point at the
// mail servers (`jnewberg: jnewberg@earth`) stripped on whole entries.
// It is pure: a reader in, a writer out.
package aliasfmt

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/peoplesync/peoplesync/nidump"
)

// Mode says which entries naming a mail server are stripped.
type Mode string

const (
	// Routing drops an entry all of whose members are local@SERVER (the
	// per-user routing alias) and, in the entries kept, rewrites a member
	// local@SERVER to local. It is the default.
	Routing Mode = "routing"
	// Grep drops an entry with any member local@SERVER: what the article's
	// `grep -v "@server"` meant to do, on whole entries and exact hosts.
	Grep Mode = "grep"
)

// ParseMode returns the Mode named s ("" is Routing).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Routing:
		return Routing, nil
	case Grep:
		return Grep, nil
	}
	return "", fmt.Errorf("unknown strip mode %q: use %q or %q", s, Routing, Grep)
}

// Options configure a Stripper.
type Options struct {
	// MailServers are the mail servers' host names. A plain name (earth)
	// matches a host whose first DNS label is that name, case-insensitively
	// (earth, EARTH, earth.example.com); a name with dots matches that host
	// exactly, case-insensitively. No servers: nothing is stripped.
	MailServers []string
	// Mode is Routing when empty.
	Mode Mode
}

// Stripper decides, entry by entry, what is written.
type Stripper struct {
	mode    Mode
	short   []string // plain names, lower case
	qualify []string // dotted names, lower case, no trailing dot
}

// NewStripper returns a Stripper for opts.
func NewStripper(opts Options) (*Stripper, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	s := &Stripper{mode: mode}
	for _, name := range opts.MailServers {
		// Stored lower case: equalFold compares against them.
		name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
		switch {
		case name == "" || strings.ContainsAny(name, "@ \t,:\""):
			return nil, fmt.Errorf("mail server name %q is not a host name", name)
		case strings.Contains(name, "."):
			s.qualify = append(s.qualify, name)
		default:
			s.short = append(s.short, name)
		}
	}
	return s, nil
}

// IsServer reports whether host names one of the mail servers.
func (s *Stripper) IsServer(host string) bool { return isServer(s, host) }

// text is what the matching works on: entries as strings, or raw bytes.
type text interface{ ~string | ~[]byte }

func isServer[T text](s *Stripper, host T) bool {
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	label := host
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			label = host[:i]
			break
		}
	}
	match := false
	for _, n := range s.short {
		if equalFold(label, n) {
			match = true
			break
		}
	}
	for _, n := range s.qualify {
		if !match && equalFold(host, n) {
			match = true
		}
	}
	if !match {
		return false
	}
	// A host with spaces or angle brackets is not a plain host name (a
	// display name or a route): never a server.
	for i := 0; i < len(host); i++ {
		switch host[i] {
		case ' ', '\t', '<', '>':
			return false
		}
	}
	return true
}

// equalFold compares a with lower, which is already lower case, ignoring
// ASCII case.
func equalFold[T text](a T, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// RoutingLocal returns the local part of member when it is a plain address
// local@SERVER with SERVER a mail server. Programs, files, includes and
// quoted members are never routing members.
func (s *Stripper) RoutingLocal(member string) (string, bool) { return routingLocal(s, member) }

func routingLocal[T text](s *Stripper, member T) (T, bool) {
	var none T
	if len(member) == 0 {
		return none, false
	}
	switch member[0] {
	case '|', '/', '"', ':':
		// A program, a file, a quoted local part or :include:.
		return none, false
	}
	at := -1
	for i := len(member) - 1; i >= 0; i-- {
		if member[i] == '@' {
			at = i
			break
		}
	}
	if at <= 0 || at == len(member)-1 || !isServer(s, member[at+1:]) {
		return none, false
	}
	for i := 0; i < at; i++ {
		if member[i] == ' ' || member[i] == '\t' {
			// "Julia Newberg @earth" is not a plain address.
			return none, false
		}
	}
	return member[:at], true
}

// decide says what to do with an entry's members: Kept, Stripped, or
// Rewritten. For Rewritten, local[i] is the length of member i's local
// part when it is a routing member, and -1 otherwise.
func decide[T text](s *Stripper, members []T, local []int) (Action, []int) {
	local = local[:0]
	if len(s.short)+len(s.qualify) == 0 {
		return Kept, local
	}
	routing := 0
	for _, m := range members {
		l, ok := routingLocal(s, m)
		if !ok {
			local = append(local, -1)
			continue
		}
		if s.mode == Grep {
			return Stripped, local
		}
		local = append(local, len(l))
		routing++
	}
	switch routing {
	case 0:
		return Kept, local
	case len(members):
		return Stripped, local
	}
	return Rewritten, local
}

// Action is what Apply did to an entry.
type Action int

// The actions.
const (
	Kept      Action = iota // written as read
	Rewritten               // written with local@SERVER members made local
	Stripped                // dropped
)

// Apply returns the entry to write and what was done to it. a is never
// modified.
func (s *Stripper) Apply(a nidump.Alias) (nidump.Alias, Action) {
	var buf [16]int
	action, local := decide(s, a.Members, buf[:0])
	if action != Rewritten {
		return a, action
	}
	members := make([]string, len(a.Members))
	for i, m := range a.Members {
		if local[i] >= 0 {
			m = m[:local[i]]
		}
		members[i] = m
	}
	a.Members = members
	return a, Rewritten
}

// Stats count what Format did.
type Stats struct {
	Read      int // entries read (entries with no members are not counted)
	Written   int // entries written
	Stripped  int // entries dropped as mail-server aliases
	Rewritten int // entries kept with a local@SERVER member rewritten
}

// Writer writes aliases through a Stripper, one entry per line in nidump's
// one-line form with LF line endings.
type Writer struct {
	bw       *bufio.Writer
	s        *Stripper
	stripped func(nidump.Alias)
	stats    Stats
	line     []byte
	local    []int // decide's scratch
}

// NewWriter returns a Writer to w. stripped, if not nil, is called with each
// entry dropped.
func NewWriter(w io.Writer, opts Options, stripped func(nidump.Alias)) (*Writer, error) {
	s, err := NewStripper(opts)
	if err != nil {
		return nil, err
	}
	return &Writer{bw: bufio.NewWriterSize(w, 64*1024), s: s, stripped: stripped}, nil
}

// Write strips and writes one entry.
func (w *Writer) Write(a nidump.Alias) error {
	w.stats.Read++
	out, action := w.s.Apply(a)
	switch action {
	case Stripped:
		w.stats.Stripped++
		if w.stripped != nil {
			w.stripped(a)
		}
		return nil
	case Rewritten:
		w.stats.Rewritten++
	}
	w.line = append(out.AppendText(w.line[:0]), '\n')
	if _, err := w.bw.Write(w.line); err != nil {
		return err
	}
	w.stats.Written++
	return nil
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Stats returns the counts so far.
func (w *Writer) Stats() Stats { return w.stats }

// writeRaw strips and writes one entry read by AliasReader.NextRaw,
// without allocating.
func (w *Writer) writeRaw(a *nidump.RawAlias) error {
	w.stats.Read++
	var action Action
	action, w.local = decide(w.s, a.Members, w.local)
	switch action {
	case Stripped:
		w.stats.Stripped++
		if w.stripped != nil {
			w.stripped(rawToAlias(a))
		}
		return nil
	case Rewritten:
		w.stats.Rewritten++
	}
	b := append(w.line[:0], a.Name...)
	b = append(b, ':', ' ')
	for i, m := range a.Members {
		if i > 0 {
			b = append(b, ',')
		}
		if action == Rewritten && w.local[i] >= 0 {
			m = m[:w.local[i]]
		}
		b = append(b, m...)
	}
	b = append(b, '\n')
	w.line = b
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	w.stats.Written++
	return nil
}

func rawToAlias(a *nidump.RawAlias) nidump.Alias {
	out := nidump.Alias{Name: string(a.Name), Line: a.Line, Members: make([]string, len(a.Members))}
	for i, m := range a.Members {
		out.Members[i] = string(m)
	}
	return out
}

// Format reads aliases from r (nidump output or an aliases(5) file), strips
// them as opts say and writes them to w in input order (see Writer). name
// labels parse errors. It stops at the first malformed entry; what was
// written before it must then be discarded. It allocates nothing per
// entry, so a dump of any size streams through in constant memory.
func Format(r io.Reader, w io.Writer, name string, opts Options, stripped func(nidump.Alias)) (Stats, error) {
	aw, err := NewWriter(w, opts, stripped)
	if err != nil {
		return Stats{}, err
	}
	ar := nidump.NewAliasReader(r, name)
	for {
		a, err := ar.NextRaw()
		if err == io.EOF {
			return aw.Stats(), aw.Flush()
		}
		if err != nil {
			return aw.Stats(), err
		}
		if err := aw.writeRaw(a); err != nil {
			return aw.Stats(), err
		}
	}
}
