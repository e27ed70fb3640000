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
func (s *Stripper) IsServer(host string) bool {
	host = strings.TrimSuffix(host, ".")
	label := host
	if i := strings.IndexByte(host, '.'); i >= 0 {
		label = host[:i]
	}
	match := false
	for _, n := range s.short {
		if len(label) == len(n) && strings.EqualFold(label, n) {
			match = true
			break
		}
	}
	for _, n := range s.qualify {
		if !match && len(host) == len(n) && strings.EqualFold(host, n) {
			match = true
		}
	}
	// A host with spaces or angle brackets is not a plain host name (a
	// display name or a route): never a server.
	if !match {
		return false
	}
	for i := 0; i < len(host); i++ {
		switch host[i] {
		case ' ', '\t', '<', '>':
			return false
		}
	}
	return true
}

// RoutingLocal returns the local part of member when it is a plain address
// local@SERVER with SERVER a mail server. Programs, files, includes and
// quoted members are never routing members.
func (s *Stripper) RoutingLocal(member string) (string, bool) {
	if member == "" {
		return "", false
	}
	switch member[0] {
	case '|', '/', '"', ':':
		// A program, a file, a quoted local part or :include:.
		return "", false
	}
	at := strings.LastIndexByte(member, '@')
	if at <= 0 || at == len(member)-1 {
		return "", false
	}
	local, host := member[:at], member[at+1:]
	if !s.IsServer(host) {
		return "", false
	}
	return local, true
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
	if len(s.short)+len(s.qualify) == 0 {
		return a, Kept
	}
	var members []string // the rewritten members, once one is routing
	routing := 0
	for i, m := range a.Members {
		local, ok := s.RoutingLocal(m)
		if !ok {
			if members != nil {
				members[i] = m
			}
			continue
		}
		if s.mode == Grep {
			return a, Stripped
		}
		routing++
		if members == nil {
			members = make([]string, len(a.Members))
			copy(members, a.Members[:i])
		}
		members[i] = local
	}
	switch {
	case routing == 0:
		return a, Kept
	case routing == len(a.Members):
		return a, Stripped
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

// Format reads aliases from r (nidump output or an aliases(5) file), strips
// them as opts say and writes them to w in input order (see Writer). name
// labels parse errors. It stops at the first malformed entry; what was
// written before it must then be discarded.
//
// Reading and writing run concurrently: one goroutine parses batches of
// entries while the caller's goroutine strips and writes the batch before.
func Format(r io.Reader, w io.Writer, name string, opts Options, stripped func(nidump.Alias)) (Stats, error) {
	aw, err := NewWriter(w, opts, stripped)
	if err != nil {
		return Stats{}, err
	}
	const batchSize, inFlight = 256, 4
	full := make(chan []nidump.Alias, inFlight)
	free := make(chan []nidump.Alias, inFlight+2)
	for range inFlight + 2 {
		free <- make([]nidump.Alias, 0, batchSize)
	}
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(full)
		ar := nidump.NewAliasReader(r, name)
		batch := <-free
		for {
			a, err := ar.Next()
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				break
			}
			batch = append(batch, a)
			if len(batch) == batchSize {
				select {
				case full <- batch:
				case <-done:
					return
				}
				select {
				case batch = <-free:
				case <-done:
					return
				}
			}
		}
		if len(batch) > 0 {
			select {
			case full <- batch:
			case <-done:
			}
		}
	}()
	defer close(done)
	for batch := range full {
		for i := range batch {
			if err := aw.Write(batch[i]); err != nil {
				return aw.Stats(), err
			}
			batch[i] = nidump.Alias{}
		}
		free <- batch[:0]
	}
	// full is closed: the reader is done, and readErr is set.
	if readErr != nil {
		return aw.Stats(), readErr
	}
	return aw.Stats(), aw.Flush()
}
