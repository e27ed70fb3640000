// Package aliasfmt turns a mail domain's aliases into the People directory's
// form: long aliases that nidump wrapped over several lines joined into one
// line each, normalized, and the per-user routing aliases that point at the
// mail servers (`jnewberg: jnewberg@earth`) stripped on whole entries.
// It is pure: a reader in, a writer out.
package aliasfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"unsafe"

	"github.com/peoplesync/peoplesync/internal/swar"
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
func (s *Stripper) IsServer(host string) bool { return s.isServer(view(host)) }

// view returns the bytes of str without copying them. The matching below
// only reads, so a string can be matched as bytes, in place.
func view(str string) []byte { return unsafe.Slice(unsafe.StringData(str), len(str)) }

// isServer is IsServer. It compares the host's first label with the
// servers first (cheap, and most hosts differ there), and only for a host
// that matches checks that it is a plain host name.
func (s *Stripper) isServer(host []byte) bool {
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if !s.matchHost(host) {
		return false
	}
	for _, c := range host {
		switch c {
		case ' ', '\t', '<', '>':
			// Not a plain host name (a display name or a route): never a
			// server.
			return false
		}
	}
	return true
}

// equalFold compares a with lower, which is already lower case, ignoring
// ASCII case.
func equalFold(a []byte, lower string) bool {
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
func (s *Stripper) RoutingLocal(member string) (string, bool) {
	n := s.routingLocal(view(member))
	if n < 0 {
		return "", false
	}
	return member[:n], true
}

// routingLocal returns the length of member's local part when it is a
// routing member, and -1 when it is not.
func (s *Stripper) routingLocal(member []byte) int {
	return s.routingAt(member, swar.LastIndex(member, '@'))
}

// routingAt is routingLocal for a member whose last '@' is at at (-1: none).
//
// It runs for every member with an '@', so it does the least work first:
// the host (see isServer), and only for a host that is a server the local
// part.
func (s *Stripper) routingAt(member []byte, at int) int {
	if at <= 0 {
		return -1
	}
	switch member[0] {
	case '|', '/', '"', ':':
		// A program, a file, a quoted local part or :include:.
		return -1
	}
	if !s.isServer(member[at+1:]) {
		return -1
	}
	if swar.Index2(member[:at], ' ', '\t') >= 0 {
		// "Julia Newberg @earth" is not a plain address.
		return -1
	}
	return at
}

// matchHost reports whether host names a server: its first label is a
// plain server name, or all of it a dotted one (ignoring ASCII case). It
// does not check that host is a well-formed host name.
func (s *Stripper) matchHost(host []byte) bool {
	for _, n := range s.short {
		if len(host) >= len(n) && (len(host) == len(n) || host[len(n)] == '.') && equalFold(host[:len(n)], n) {
			return true
		}
	}
	for _, n := range s.qualify {
		if equalFold(host, n) {
			return true
		}
	}
	return false
}

// decide says what to do with an entry's members: Kept, Stripped, or
// Rewritten. For Rewritten, local[i] is the length of member i's local
// part when it is a routing member, and -1 otherwise.
func (s *Stripper) decide(members [][]byte, local []int) (Action, []int) {
	local = local[:0]
	if len(s.short)+len(s.qualify) == 0 {
		return Kept, local
	}
	routing := 0
	for _, m := range members {
		n := s.routingLocal(m)
		local = append(local, n)
		if n < 0 {
			continue
		}
		if s.mode == Grep {
			return Stripped, local
		}
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
	var lbuf [16]int
	var mbuf [16][]byte
	views := mbuf[:0]
	for _, m := range a.Members {
		views = append(views, view(m))
	}
	action, local := s.decide(views, lbuf[:0])
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
	w        io.Writer // nil: output collects in buf (parallel chunks)
	buf      []byte    // output not yet written to w
	s        *Stripper
	stripped func(nidump.Alias)
	stats    Stats
	local    []int    // decide's scratch
	views    [][]byte // Write's members, as bytes
}

// flushAt is how much output a Writer collects before writing it.
const flushAt = 64 << 10

// NewWriter returns a Writer to w. stripped, if not nil, is called with each
// entry dropped.
func NewWriter(w io.Writer, opts Options, stripped func(nidump.Alias)) (*Writer, error) {
	s, err := NewStripper(opts)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, buf: make([]byte, 0, flushAt+4096), s: s, stripped: stripped}, nil
}

// Write strips and writes one entry.
func (w *Writer) Write(a nidump.Alias) error {
	w.views = w.views[:0]
	for _, m := range a.Members {
		w.views = append(w.views, view(m))
	}
	return w.emit(view(a.Name), w.views, func() nidump.Alias { return a })
}
func (w *Writer) maybeFlush() error {
	if w.w == nil || len(w.buf) < flushAt {
		return nil
	}
	return w.Flush()
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.w == nil || len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Stats returns the counts so far.
func (w *Writer) Stats() Stats { return w.stats }

// writeRaw strips and writes one entry read by AliasReader.NextRaw,
// without allocating.
func (w *Writer) writeRaw(a *nidump.RawAlias) error {
	return w.emit(a.Name, a.Members, func() nidump.Alias { return rawToAlias(a) })
}

// emit strips and writes one entry, the one path both Write and writeRaw
// take. original gives the entry for the stripped callback.
func (w *Writer) emit(name []byte, members [][]byte, original func() nidump.Alias) error {
	w.stats.Read++
	var action Action
	action, w.local = w.s.decide(members, w.local)
	switch action {
	case Stripped:
		w.stats.Stripped++
		if w.stripped != nil {
			w.stripped(original())
		}
		return nil
	case Rewritten:
		w.stats.Rewritten++
	}
	b := append(w.buf, name...)
	b = append(b, ':', ' ')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		if action == Rewritten && w.local[i] >= 0 {
			m = m[:w.local[i]]
		}
		b = append(b, m...)
	}
	w.buf = append(b, '\n')
	w.stats.Written++
	return w.maybeFlush()
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
// written before it must then be discarded.
//
// It streams in bounded memory, allocating nothing per entry, and uses
// every core: the input is cut into chunks at entry boundaries, chunks are
// parsed and stripped in parallel, and written in order. With a stripped
// callback (called in input order) it runs on one goroutine.
func Format(r io.Reader, w io.Writer, name string, opts Options, stripped func(nidump.Alias)) (Stats, error) {
	if stripped != nil || runtime.GOMAXPROCS(0) == 1 {
		return formatSequential(r, w, name, opts, stripped)
	}
	return formatChunks(r, w, name, opts, chunkSize, min(runtime.GOMAXPROCS(0), 4))
}

func formatSequential(r io.Reader, w io.Writer, name string, opts Options, stripped func(nidump.Alias)) (Stats, error) {
	aw, err := NewWriter(w, opts, stripped)
	if err != nil {
		return Stats{}, err
	}
	st, err := aw.format(nidump.NewAliasReader(r, name))
	if err != nil {
		return st, err
	}
	return st, aw.Flush()
}

// format writes every entry ar reads.
func (w *Writer) format(ar *nidump.AliasReader) (Stats, error) {
	for {
		a, err := ar.NextRaw()
		if err == io.EOF {
			return w.Stats(), nil
		}
		if err != nil {
			return w.Stats(), err
		}
		if err := w.writeRaw(a); err != nil {
			return w.Stats(), err
		}
	}
}

// chunkSize is about how much input one parallel chunk holds.
const chunkSize = 64 << 10

// chunk is a run of whole entries, formatted by a worker.
type chunk struct {
	in    []byte
	lines int // lines in it, counted by the worker
	out   []byte
	stats Stats
	err   error
	done  chan struct{}
}

func formatChunks(r io.Reader, w io.Writer, name string, opts Options, size, workers int) (Stats, error) {
	s, err := NewStripper(opts)
	if err != nil {
		return Stats{}, err
	}
	// Chunks are recycled through free: at most len(free) are in memory.
	free := make(chan *chunk, 3*workers+2)
	for range cap(free) {
		free <- &chunk{}
	}
	todo := make(chan *chunk, cap(free))
	inOrder := make(chan *chunk, cap(free))
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(todo)
		defer close(inOrder)
		readErr = cutChunks(r, size, free, stop, func(c *chunk) {
			inOrder <- c // never blocks: both hold every chunk there is
			todo <- c
		})
	}()
	for range workers {
		go func() {
			// The output collects in the chunk's own buffer.
			aw := &Writer{s: s}
			ar := nidump.NewAliasReader(nil, name)
			for c := range todo {
				aw.buf, aw.stats = c.out[:0], Stats{}
				var ok bool
				if c.lines, ok = aw.fastChunk(c.in); ok {
					c.stats, c.err = aw.stats, nil
				} else {
					c.lines = bytes.Count(c.in, []byte{'\n'})
					ar.ResetBytes(c.in)
					c.stats, c.err = aw.format(ar)
				}
				c.out = aw.buf
				close(c.done)
			}
		}()
	}
	// On an early return the reader and the workers wind down by
	// themselves: the reader at its next chunk (a read blocked on a slow
	// pipe is not waited for), the workers when the reader closes todo.
	defer close(stop)
	var st Stats
	lines := 0 // in the chunks before c: workers number lines from 1 in each
	for c := range inOrder {
		<-c.done
		if pe := (*nidump.ParseError)(nil); errors.As(c.err, &pe) {
			pe.Line += lines
		}
		lines += c.lines
		st.Read += c.stats.Read
		st.Written += c.stats.Written
		st.Stripped += c.stats.Stripped
		st.Rewritten += c.stats.Rewritten
		if _, err := w.Write(c.out); err != nil {
			return st, err
		}
		if c.err != nil {
			return st, c.err
		}
		free <- c
	}
	// inOrder is closed: the reader is done, and readErr is set.
	return st, readErr
}

// cutChunks reads r into chunks taken from free, of about size bytes, that
// end where an entry ends: before a line that starts neither with a space or
// tab (a continuation) nor with '#' (a comment, which does not end an
// entry), and hands them to send. It stops early when stop is closed. The
// input is read straight into the chunks; only the start of the next entry
// is copied from one chunk to the next.
func cutChunks(r io.Reader, size int, free <-chan *chunk, stop <-chan struct{}, send func(*chunk)) error {
	take := func() *chunk {
		select {
		case c := <-free:
			c.in = c.in[:0]
			return c
		case <-stop:
			return nil
		}
	}
	c := take()
	for eof := false; c != nil; {
		for !eof && len(c.in) < size {
			if cap(c.in)-len(c.in) < size-len(c.in) {
				c.in = append(make([]byte, 0, 2*size+len(c.in)), c.in...)
			}
			n, err := r.Read(c.in[len(c.in):cap(c.in)])
			c.in = c.in[:len(c.in)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return err
			}
		}
		if len(c.in) == 0 {
			return nil
		}
		cut := len(c.in)
		if !eof {
			if cut = entryBoundary(c.in); cut <= 0 {
				if len(c.in)-bytes.LastIndexByte(c.in, '\n') <= nidump.MaxLine {
					size *= 2 // one entry longer than a chunk: read more
					continue
				}
				// A line too long to be held: the worker reports it.
				cut = len(c.in)
			}
		}
		next := take()
		if next == nil {
			return nil
		}
		next.in = append(next.in, c.in[cut:]...)
		c.in = c.in[:cut]
		c.err, c.done = nil, make(chan struct{})
		send(c)
		c = next
		if eof && len(c.in) == 0 {
			return nil
		}
	}
	return nil
}

// entryBoundary returns the last offset in b, after a '\n', at which a line
// that can start an entry begins, or -1 when there is none.
func entryBoundary(b []byte) int {
	for end := len(b) - 1; end > 0; {
		nl := bytes.LastIndexByte(b[:end], '\n')
		if nl < 0 {
			return -1
		}
		switch b[nl+1] {
		case ' ', '\t', '#':
			end = nl
			continue
		}
		return nl + 1
	}
	return -1
}
