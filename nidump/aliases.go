package nidump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/peoplesync/peoplesync/internal/swar"
)

// Alias is one mail alias: a name and its members, in the order read.
// Members are kept verbatim: `|program`, `/file`, `:include:/path` and
// quoted values stay exactly as written.
type Alias struct {
	Name    string
	Members []string
	// Line is the line the entry started on (0 when not read from text).
	Line int
}

// AppendText appends the alias in nidump's one-line form, `name: m1,m2,m3`
// (one space after the colon, members joined by a comma with no space),
// without a line ending.
func (a Alias) AppendText(b []byte) []byte {
	b = append(b, a.Name...)
	b = append(b, ':', ' ')
	for i, m := range a.Members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return b
}

// String returns the alias in nidump's one-line form.
func (a Alias) String() string { return string(a.AppendText(nil)) }

// AliasReader reads aliases one at a time from `nidump aliases` output or an
// aliases(5) file, so a dump of any size is read in bounded memory.
//
// A line starting with a space or tab continues the entry before it (the
// way nidump wraps long aliases and aliases(5) allows); continuation text is
// joined with a single space. Lines starting with '#' are comments and are
// skipped without ending the entry (as Postfix does); a blank line ends the
// entry, so a continuation line after it, or at the start of the input, is
// an error. CRLF line endings are accepted. Members are split on commas
// outside double quotes and trimmed; empty members are dropped, and so are
// entries left with no members (see Dropped).
type AliasReader struct {
	s       *bufio.Scanner
	name    string
	line    int    // physical lines read so far
	pending []byte // the entry being joined
	start   int    // its line number; 0 when no entry is pending
	dropped []Alias

	// The entry last returned, parsed: a buffer of its own, so reading the
	// next entry does not overwrite it.
	cur     []byte // owned buffer for a joined entry
	entry   []byte // the entry last parsed: cur, or a line of data
	curLine int
	nameSp  span
	spans   []span
	raw     RawAlias
	scanBuf []byte // the scanner's first buffer, for Reset

	// In-memory input (ResetBytes): lines are read from data in place, and
	// a one-line entry is parsed where it lies (ref) instead of copied.
	data  []byte
	off   int
	inMem bool
	ref   []byte
	err   error
}

// NewAliasReader returns a reader of aliases. name labels errors (a file
// name or "nidump aliases"); it may be empty.
func NewAliasReader(r io.Reader, name string) *AliasReader {
	buf := make([]byte, 0, 64*1024)
	s := bufio.NewScanner(r)
	s.Buffer(buf, MaxLine)
	return &AliasReader{s: s, name: name, scanBuf: buf}
}

// SkipLines makes line numbers count from n+1: for reading part of a
// larger input that starts after line n. Call it before the first Next.
func (r *AliasReader) SkipLines(n int) { r.line = n }

// Reset makes r read a new input, keeping its buffers.
func (r *AliasReader) Reset(rd io.Reader) {
	s := bufio.NewScanner(rd)
	s.Buffer(r.scanBuf[:0], MaxLine)
	*r = AliasReader{s: s, name: r.name, pending: r.pending[:0], cur: r.cur[:0], spans: r.spans[:0], raw: RawAlias{Members: r.raw.Members[:0]}, scanBuf: r.scanBuf}
}

// ResetBytes makes r read data, which must not change while r reads it,
// keeping r's buffers. Lines are read in place, without copying.
func (r *AliasReader) ResetBytes(data []byte) {
	*r = AliasReader{s: r.s, name: r.name, pending: r.pending[:0], cur: r.cur[:0], spans: r.spans[:0], raw: RawAlias{Members: r.raw.Members[:0]}, scanBuf: r.scanBuf,
		data: data, inMem: true}
}

// Dropped returns the entries read so far that had no members and so were
// dropped, with their line numbers; nidump skips those too.
func (r *AliasReader) Dropped() []Alias { return r.dropped }

// Next returns the next alias, or io.EOF after the last one.
func (r *AliasReader) Next() (Alias, error) {
	if err := r.advance(); err != nil {
		return Alias{}, err
	}
	return r.alias(), nil
}

// advance reads up to the end of the next entry and parses it into r.cur.
func (r *AliasReader) advance() error {
	for r.err == nil {
		text, ok := r.scan()
		if !ok {
			break
		}
		switch {
		case isBlank(text):
			if ok, err := r.flush(); err != nil || ok {
				return err
			}
		case text[0] == '#':
			// A comment: skipped, the entry (if any) goes on.
		case text[0] == ' ' || text[0] == '\t':
			if r.start == 0 {
				r.err = r.errorf(r.line, "continuation line (it starts with a space or tab) with no alias before it: remove the indentation, or the blank line above it")
				return r.err
			}
			if r.ref != nil {
				r.pending = append(r.pending[:0], r.ref...)
				r.ref = nil
			}
			r.pending = append(r.pending, ' ')
			i := 0
			for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
				i++
			}
			r.pending = append(r.pending, text[i:]...)
		default:
			ok, err := r.flush()
			if err != nil {
				return err
			}
			// A bad name is reported now, not when the entry ends: a
			// command that prints it may go on for a long time.
			if err := checkName(text); err != nil {
				r.err = r.errorf(r.line, "%v", err)
				if ok {
					return nil
				}
				return r.err
			}
			if r.inMem {
				r.ref = text
			} else {
				r.pending = append(r.pending[:0], text...)
			}
			r.start = r.line
			if ok {
				return nil
			}
		}
	}
	if r.err != nil {
		return r.err
	}
	if ok, err := r.flush(); err != nil || ok {
		return err
	}
	r.err = io.EOF
	return io.EOF
}

// scan returns the next physical line without its line ending. The bytes
// are valid until the next call.
func (r *AliasReader) scan() ([]byte, bool) {
	if r.inMem {
		if r.off >= len(r.data) {
			return nil, false
		}
		rest := r.data[r.off:]
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i]
			r.off += i + 1
		} else {
			r.off = len(r.data)
		}
		r.line++
		if len(line) >= MaxLine {
			// As the scanner below refuses it.
			r.err = r.errorf(r.line, "%v", errLineTooLong)
			return nil, false
		}
		// As bufio.ScanLines does, then as for scanned lines below.
		return dropCR(dropCR(line)), true
	}
	if !r.s.Scan() {
		if err := r.s.Err(); errors.Is(err, bufio.ErrTooLong) {
			r.err = r.errorf(r.line+1, "%v", errLineTooLong)
		} else if err != nil {
			r.err = r.errorf(r.line+1, "%v", err)
		}
		return nil, false
	}
	r.line++
	return dropCR(r.s.Bytes()), true
}

// errLineTooLong refuses a line of MaxLine bytes or more, which no
// aliases file has: it is never held in memory.
var errLineTooLong = fmt.Errorf("a line of %d MiB or more: not an aliases file (or a binary one)", MaxLine>>20)

// dropCR drops one '\r' at the end of line.
func dropCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

// isBlank reports whether line is empty or white space only.
func isBlank(line []byte) bool {
	for _, c := range line {
		if !IsSpace(c) {
			return false
		}
	}
	return true
}

// checkName reports a malformed name at the start of an entry line.
func checkName(text []byte) error {
	_, _, err := splitName(text)
	return err
}

// flush parses the pending entry into r.name and r.spans, swapping
// buffers so that the entry stays valid while the next one is read. ok is
// false when there was none, or it was dropped for having no members.
func (r *AliasReader) flush() (ok bool, err error) {
	if r.start == 0 {
		return false, nil
	}
	if r.ref != nil {
		// A one-line entry of in-memory data: used where it lies.
		r.entry, r.ref = r.ref, nil
	} else {
		r.cur, r.pending = r.pending, r.cur[:0]
		r.entry = r.cur
	}
	r.curLine, r.start = r.start, 0
	r.nameSp, r.spans, err = parseEntry(r.entry, r.spans[:0])
	if err != nil {
		r.err = r.errorf(r.curLine, "%v", err)
		return false, r.err
	}
	if len(r.spans) == 0 {
		r.dropped = append(r.dropped, Alias{Name: string(r.entry[r.nameSp.start:r.nameSp.end]), Line: r.curLine})
		return false, nil
	}
	return true, nil
}

// alias builds the current entry as an Alias: one string allocation for
// the whole entry, members are substrings of it.
func (r *AliasReader) alias() Alias {
	s := string(r.entry)
	members := make([]string, len(r.spans))
	for i, sp := range r.spans {
		members[i] = s[sp.start:sp.end]
	}
	return Alias{Name: s[r.nameSp.start:r.nameSp.end], Members: members, Line: r.curLine}
}

// RawAlias is an alias whose Name and Members point into the reader's
// buffer: valid only until the reader's next call.
type RawAlias struct {
	Name    []byte
	Members [][]byte
	Line    int
}

// NextRaw is Next without allocation: the entry returned is valid until
// the next call to Next or NextRaw.
func (r *AliasReader) NextRaw() (*RawAlias, error) {
	if err := r.advance(); err != nil {
		return nil, err
	}
	r.raw.Name = r.entry[r.nameSp.start:r.nameSp.end]
	r.raw.Members = r.raw.Members[:0]
	for _, sp := range r.spans {
		r.raw.Members = append(r.raw.Members, r.entry[sp.start:sp.end])
	}
	r.raw.Line = r.curLine
	return &r.raw, nil
}

func (r *AliasReader) errorf(line int, format string, args ...any) error {
	return &ParseError{File: r.name, Line: line, Err: fmt.Errorf(format, args...)}
}

// span is a range of bytes in an entry.
type span struct{ start, end int }

// ParseAliasLine parses one whole (already joined) alias entry:
// `name: member, member, ...`. A name holding ':' must be double-quoted.
// The entry may have no members.
func ParseAliasLine(text string) (Alias, error) {
	name, spans, err := parseEntry([]byte(text), nil)
	if err != nil {
		return Alias{}, err
	}
	a := Alias{Name: text[name.start:name.end]}
	for _, sp := range spans {
		a.Members = append(a.Members, text[sp.start:sp.end])
	}
	return a, nil
}

// parseEntry finds the name and the members of an entry, appending the
// members' spans to spans.
func parseEntry(text []byte, spans []span) (span, []span, error) {
	name, rest, err := splitName(text)
	if err != nil {
		return name, spans, err
	}
	spans, err = splitMembers(text, rest, spans)
	if err != nil {
		return name, spans, fmt.Errorf("alias %s: %w", text[name.start:name.end], err)
	}
	return name, spans, nil
}

// splitName finds the name of an entry and where the member list after
// the colon starts.
func splitName(text []byte) (name span, rest int, err error) {
	if len(text) > 0 && text[0] == '"' {
		end := closingQuote(text, 0)
		if end < 0 {
			return name, 0, errors.New(`alias name has an opening '"' with no closing '"'`)
		}
		name = span{0, end + 1}
		rest = end + 1
		for rest < len(text) && (text[rest] == ' ' || text[rest] == '\t') {
			rest++
		}
		if rest == len(text) || text[rest] != ':' {
			return name, 0, fmt.Errorf("missing ':' after the alias name %s", text[:end+1])
		}
		rest++
	} else {
		colon := bytes.IndexByte(text, ':')
		if colon < 0 {
			return name, 0, fmt.Errorf("missing ':' after the alias name in %q: an alias is `name: member, member`", truncate(string(text)))
		}
		// The line starts with neither a space nor a tab (that would be a
		// continuation), so only the end needs trimming.
		end := colon
		for end > 0 && (text[end-1] == ' ' || text[end-1] == '\t') {
			end--
		}
		name, rest = span{0, end}, colon+1
	}
	if n := text[name.start:name.end]; len(n) == 0 || string(n) == `""` {
		return name, 0, fmt.Errorf("empty alias name in %q", truncate(string(text)))
	}
	return name, rest, nil
}

// SplitMembers splits a member list on commas outside double quotes, trims
// each member and drops empty ones. Inside quotes a backslash escapes the
// next character.
func SplitMembers(s string) ([]string, error) {
	spans, err := splitMembers([]byte(s), 0, nil)
	if err != nil || len(spans) == 0 {
		return nil, err
	}
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = s[sp.start:sp.end]
	}
	return out, nil
}

// splitMembers appends the spans of the members in text[from:].
func splitMembers(text []byte, from int, spans []span) ([]span, error) {
	add := func(start, end int) {
		for start < end && IsSpace(text[start]) {
			start++
		}
		for end > start && IsSpace(text[end-1]) {
			end--
		}
		if start < end {
			spans = append(spans, span{start, end})
		}
	}
	start := from
	for i := from; ; {
		j := swar.Index2(text[i:], ',', '"')
		if j < 0 {
			break
		}
		i += j
		if text[i] == '"' {
			end := closingQuote(text, i)
			if end < 0 {
				return spans, fmt.Errorf(`member %q has an opening '"' with no closing '"'`, truncate(strings.TrimSpace(string(text[start:]))))
			}
			i = end + 1
			continue
		}
		add(start, i)
		i++
		start = i
	}
	add(start, len(text))
	return spans, nil
}

// IsSpace reports whether c is white space the reader trims from members
// and ignores in blank lines.
func IsSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// closingQuote returns the index of the '"' closing the one at open, or -1.
func closingQuote(s []byte, open int) int {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func truncate(s string) string {
	const n = 60
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
