package nidump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
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
	err     error
}

// NewAliasReader returns a reader of aliases. name labels errors (a file
// name or "nidump aliases"); it may be empty.
func NewAliasReader(r io.Reader, name string) *AliasReader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), maxLine)
	return &AliasReader{s: s, name: name}
}

// Dropped returns the entries read so far that had no members and so were
// dropped, with their line numbers; nidump skips those too.
func (r *AliasReader) Dropped() []Alias { return r.dropped }

// Next returns the next alias, or io.EOF after the last one.
func (r *AliasReader) Next() (Alias, error) {
	for r.err == nil {
		text, ok := r.scan()
		if !ok {
			break
		}
		switch {
		case len(bytes.TrimSpace(text)) == 0:
			if a, ok, err := r.flush(); err != nil || ok {
				return a, err
			}
		case text[0] == '#':
			// A comment: skipped, the entry (if any) goes on.
		case text[0] == ' ' || text[0] == '\t':
			if r.start == 0 {
				r.err = r.errorf(r.line, "continuation line (it starts with a space or tab) with no alias before it: remove the indentation, or the blank line above it")
				return Alias{}, r.err
			}
			r.pending = append(r.pending, ' ')
			r.pending = append(r.pending, bytes.TrimLeft(text, " \t")...)
		default:
			a, ok, err := r.flush()
			if err != nil {
				return a, err
			}
			// A bad name is reported now, not when the entry ends: a
			// command that prints it may go on for a long time.
			if err := checkName(text); err != nil {
				r.err = r.errorf(r.line, "%v", err)
				if ok {
					return a, nil
				}
				return Alias{}, r.err
			}
			r.pending = append(r.pending[:0], text...)
			r.start = r.line
			if ok {
				return a, nil
			}
		}
	}
	if r.err != nil {
		return Alias{}, r.err
	}
	if a, ok, err := r.flush(); err != nil || ok {
		return a, err
	}
	r.err = io.EOF
	return Alias{}, io.EOF
}

// scan returns the next physical line without its line ending. The bytes
// are valid until the next call.
func (r *AliasReader) scan() ([]byte, bool) {
	if !r.s.Scan() {
		if err := r.s.Err(); err != nil {
			r.err = r.errorf(r.line+1, "%v", err)
		}
		return nil, false
	}
	r.line++
	return bytes.TrimSuffix(r.s.Bytes(), []byte{'\r'}), true
}

// checkName reports a malformed name at the start of an entry line.
func checkName(text []byte) error {
	if text[0] == '"' || bytes.IndexByte(text, ':') < 0 {
		_, _, err := splitName(string(text))
		return err
	}
	return nil
}

// flush parses the pending entry. ok is false when there was none, or it
// was dropped for having no members.
func (r *AliasReader) flush() (a Alias, ok bool, err error) {
	if r.start == 0 {
		return Alias{}, false, nil
	}
	text, line := string(r.pending), r.start
	r.pending, r.start = r.pending[:0], 0
	a, err = ParseAliasLine(text)
	if err != nil {
		r.err = r.errorf(line, "%v", err)
		return Alias{}, false, r.err
	}
	a.Line = line
	if len(a.Members) == 0 {
		r.dropped = append(r.dropped, a)
		return Alias{}, false, nil
	}
	return a, true, nil
}

func (r *AliasReader) errorf(line int, format string, args ...any) error {
	return &ParseError{File: r.name, Line: line, Err: fmt.Errorf(format, args...)}
}

// ParseAliasLine parses one whole (already joined) alias entry:
// `name: member, member, ...`. A name holding ':' must be double-quoted.
// The entry may have no members.
func ParseAliasLine(text string) (Alias, error) {
	name, rest, err := splitName(text)
	if err != nil {
		return Alias{}, err
	}
	members, err := SplitMembers(rest)
	if err != nil {
		return Alias{}, fmt.Errorf("alias %s: %w", name, err)
	}
	return Alias{Name: name, Members: members}, nil
}

// splitName splits an entry into its name and the member list after the
// colon.
func splitName(text string) (name, rest string, err error) {
	if strings.HasPrefix(text, `"`) {
		end := closingQuote(text, 0)
		if end < 0 {
			return "", "", errors.New(`alias name has an opening '"' with no closing '"'`)
		}
		name = text[:end+1]
		rest = strings.TrimLeft(text[end+1:], " \t")
		if !strings.HasPrefix(rest, ":") {
			return "", "", fmt.Errorf("missing ':' after the alias name %s", name)
		}
		rest = rest[1:]
	} else {
		var found bool
		name, rest, found = strings.Cut(text, ":")
		if !found {
			return "", "", fmt.Errorf("missing ':' after the alias name in %q: an alias is `name: member, member`", truncate(text))
		}
		// The line starts with neither a space nor a tab (that would be a
		// continuation), so only the end needs trimming.
		name = strings.TrimRight(name, " \t")
	}
	if name == "" || name == `""` {
		return "", "", fmt.Errorf("empty alias name in %q", truncate(text))
	}
	return name, rest, nil
}

// SplitMembers splits a member list on commas outside double quotes, trims
// each member and drops empty ones. Inside quotes a backslash escapes the
// next character.
func SplitMembers(s string) ([]string, error) {
	if strings.IndexByte(s, '"') < 0 {
		// No quotes (nidump never writes any): every comma splits.
		return splitPlain(s), nil
	}
	var out []string
	start := 0
	for i := 0; i < len(s); {
		j := strings.IndexAny(s[i:], `",`)
		if j < 0 {
			break
		}
		i += j
		if s[i] == '"' {
			end := closingQuote(s, i)
			if end < 0 {
				return nil, fmt.Errorf(`member %q has an opening '"' with no closing '"'`, truncate(strings.TrimSpace(s[start:])))
			}
			i = end + 1
			continue
		}
		if m := strings.TrimSpace(s[start:i]); m != "" {
			out = append(out, m)
		}
		i++
		start = i
	}
	if m := strings.TrimSpace(s[start:]); m != "" {
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// splitPlain splits on every comma in one pass, into a slice of the exact
// size.
func splitPlain(s string) []string {
	var scratch [64]string
	out := scratch[:0]
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if m := trimSpace(s[start:i]); m != "" {
				out = append(out, m)
			}
			start = i + 1
		}
	}
	if m := trimSpace(s[start:]); m != "" {
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil
	}
	return append([]string(nil), out...)
}

// trimSpace is strings.TrimSpace for the common case of no space at all.
func trimSpace(s string) string {
	if len(s) > 0 && s[0] > ' ' && s[len(s)-1] > ' ' && s[0] < 0x80 && s[len(s)-1] < 0x80 {
		return s
	}
	return strings.TrimSpace(s)
}

// closingQuote returns the index of the '"' closing the one at open, or -1.
func closingQuote(s string, open int) int {
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
