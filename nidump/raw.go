package nidump

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RawDir is one NetInfo directory of `nidump -r` output: its properties,
// in the order printed, and how deep it sits below the dumped directory
// (0 for the dumped directory itself, 1 for its children, and so on).
type RawDir struct {
	Depth int
	Props []RawProp
	// Line is the line of the directory's '{' (0 when not read from text).
	Line int
}

// RawProp is one property of a directory: a key and its values, kept
// exactly (commas, spaces and quotes included).
type RawProp struct {
	Key    string
	Values []string
	// Line is the line the key is on (0 when not read from text).
	Line int
}

// Prop returns the first property named key.
func (d RawDir) Prop(key string) (RawProp, bool) {
	for _, p := range d.Props {
		if p.Key == key {
			return p, true
		}
	}
	return RawProp{}, false
}

// maxRawDepth bounds directory nesting: NetInfo domains are a few levels
// deep, and the bound keeps a hostile input from exhausting the stack.
const maxRawDepth = 256

// ReadRaw reads `nidump -r DIR DOMAIN` output and calls fn with every
// directory in document order: a directory before its children. The dump
// is read in one pass and never held whole: memory is bounded by one
// directory's properties and the nesting depth. name labels errors (a file
// name or the command); it may be empty.
//
// The grammar is nidump's: a directory is `{`, its properties, each
// `"key" = ( "v1", "v2" );` (the `;` may be left out), and optionally
// `CHILDREN = ( {...}, {...} )`, then `}`. Outside double quotes spacing
// and line breaks do not matter. Inside them a backslash escapes `"` and
// `\`; any other backslash is kept (later nidumps escape only `"`, so
// `"\root"` is the value `\root`). Properties after CHILDREN are an error.
func ReadRaw(r io.Reader, name string, fn func(RawDir) error) error {
	p := &rawParser{br: bufio.NewReaderSize(r, 64*1024), name: name, line: 1}
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind == tokEOF {
		return p.errorf(t.line, "empty input: `nidump -r` output starts with '{'")
	}
	if t.kind != '{' {
		return p.errorf(t.line, "%s: `nidump -r` output starts with '{'", t)
	}
	if err := p.dir(0, t.line, fn); err != nil {
		return err
	}
	t, err = p.next()
	if err != nil {
		return err
	}
	if t.kind != tokEOF {
		return p.errorf(t.line, "%s after the closing '}' of the dumped directory: the output should end there", t)
	}
	return nil
}

type tokKind int

const (
	tokEOF    tokKind = -1
	tokString tokKind = -2 // "quoted"
	tokWord   tokKind = -3 // a bare word: only CHILDREN is valid
	// Punctuation tokens are their byte: { } ( ) = ; ,
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return fmt.Sprintf("string %q", truncate(t.text))
	case tokWord:
		return fmt.Sprintf("word %q", truncate(t.text))
	}
	return fmt.Sprintf("'%c'", rune(t.kind))
}

type rawParser struct {
	br   *bufio.Reader
	name string
	line int
	buf  []byte
}

func (p *rawParser) errorf(line int, format string, args ...any) error {
	return &ParseError{File: p.name, Line: line, Err: fmt.Errorf(format, args...)}
}

func (p *rawParser) readErr(err error) error {
	return &ParseError{File: p.name, Line: p.line, Err: err}
}

// next returns the next token.
func (p *rawParser) next() (token, error) {
	for {
		c, err := p.br.ReadByte()
		if err == io.EOF {
			return token{kind: tokEOF, line: p.line}, nil
		}
		if err != nil {
			return token{}, p.readErr(err)
		}
		switch c {
		case '\n':
			p.line++
		case ' ', '\t', '\r', '\f', '\v':
		case '{', '}', '(', ')', '=', ';', ',':
			return token{kind: tokKind(c), line: p.line}, nil
		case '"':
			return p.quoted()
		default:
			return p.word(c)
		}
	}
}

// quoted reads a string after its opening quote.
func (p *rawParser) quoted() (token, error) {
	start := p.line
	p.buf = p.buf[:0]
	for {
		c, err := p.br.ReadByte()
		if err == io.EOF {
			return token{}, p.errorf(start, `a string opened with '"' is never closed`)
		}
		if err != nil {
			return token{}, p.readErr(err)
		}
		switch c {
		case '"':
			return token{kind: tokString, text: string(p.buf), line: start}, nil
		case '\\':
			n, err := p.br.ReadByte()
			if err == io.EOF {
				return token{}, p.errorf(start, `a string opened with '"' is never closed`)
			}
			if err != nil {
				return token{}, p.readErr(err)
			}
			if n != '"' && n != '\\' {
				p.buf = append(p.buf, '\\')
			}
			if n == '\n' {
				p.line++
			}
			p.buf = append(p.buf, n)
		case '\n':
			p.line++
			p.buf = append(p.buf, c)
		default:
			p.buf = append(p.buf, c)
		}
		if len(p.buf) > MaxLine {
			return token{}, p.errorf(start, "a string longer than %d bytes", MaxLine)
		}
	}
}

// word reads a bare word starting with c.
func (p *rawParser) word(c byte) (token, error) {
	p.buf = append(p.buf[:0], c)
	for len(p.buf) <= 64 {
		c, err := p.br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return token{}, p.readErr(err)
		}
		if strings.IndexByte(" \t\r\n\f\v{}()=;,\"", c) >= 0 {
			p.br.UnreadByte()
			break
		}
		p.buf = append(p.buf, c)
	}
	return token{kind: tokWord, text: string(p.buf), line: p.line}, nil
}

func (p *rawParser) expect(kind tokKind, what string) (token, error) {
	t, err := p.next()
	if err != nil {
		return t, err
	}
	if t.kind != kind {
		return t, p.errorf(t.line, "%s where %s was expected", t, what)
	}
	return t, nil
}

// dir parses a directory after its '{'.
func (p *rawParser) dir(depth, line int, fn func(RawDir) error) error {
	if depth > maxRawDepth {
		return p.errorf(line, "directories nested more than %d deep", maxRawDepth)
	}
	d := RawDir{Depth: depth, Line: line}
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tokString:
			prop, err := p.prop(t)
			if err != nil {
				return err
			}
			d.Props = append(d.Props, prop)
		case t.kind == tokWord && t.text == "CHILDREN":
			if err := fn(d); err != nil {
				return err
			}
			if err := p.children(depth, fn); err != nil {
				return err
			}
			t, err := p.next()
			if err != nil {
				return err
			}
			if t.kind == ';' {
				if t, err = p.next(); err != nil {
					return err
				}
			}
			switch t.kind {
			case '}':
				return nil
			case tokString, tokWord:
				return p.errorf(t.line, "%s after CHILDREN: a directory's properties come before its children", t)
			}
			return p.errorf(t.line, "%s where the '}' closing the directory opened on line %d was expected", t, line)
		case t.kind == '}':
			return fn(d)
		case t.kind == tokWord:
			return p.errorf(t.line, "%s: a property key is a double-quoted string, and the only bare word is CHILDREN", t)
		case t.kind == tokEOF:
			return p.errorf(t.line, "the directory opened on line %d is never closed with '}': the dump is cut short", line)
		default:
			return p.errorf(t.line, "%s where a property (\"key\" = ( ... );), CHILDREN or '}' was expected", t)
		}
	}
}

// prop parses `= ( "v", ... ) [;]` after the key.
func (p *rawParser) prop(key token) (RawProp, error) {
	prop := RawProp{Key: key.text, Line: key.line}
	if _, err := p.expect('=', "'=' after the key "+fmt.Sprintf("%q", truncate(key.text))); err != nil {
		return prop, err
	}
	if _, err := p.expect('(', "'(' opening the values of "+fmt.Sprintf("%q", truncate(key.text))); err != nil {
		return prop, err
	}
	t, err := p.next()
	if err != nil {
		return prop, err
	}
	for t.kind != ')' {
		if t.kind != tokString {
			return prop, p.errorf(t.line, "%s in the values of %q: values are double-quoted strings separated by ','", t, truncate(key.text))
		}
		prop.Values = append(prop.Values, t.text)
		if t, err = p.next(); err != nil {
			return prop, err
		}
		switch t.kind {
		case ',':
			if t, err = p.next(); err != nil {
				return prop, err
			}
			if t.kind != tokString {
				return prop, p.errorf(t.line, "%s after ',' in the values of %q: a value was expected", t, truncate(key.text))
			}
		case ')':
		default:
			return prop, p.errorf(t.line, "%s in the values of %q: values are double-quoted strings separated by ','", t, truncate(key.text))
		}
	}
	// The ';' ending a property is optional.
	c, err := p.peekNonSpace()
	if err != nil {
		return prop, err
	}
	if c == ';' {
		p.next()
	}
	return prop, nil
}

// peekNonSpace skips spacing and returns the next byte without reading it
// (0 at the end of input).
func (p *rawParser) peekNonSpace() (byte, error) {
	for {
		b, err := p.br.Peek(1)
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, p.readErr(err)
		}
		switch b[0] {
		case '\n':
			p.line++
		case ' ', '\t', '\r', '\f', '\v':
		default:
			return b[0], nil
		}
		p.br.ReadByte()
	}
}

// children parses `= ( {...}, {...} )` after CHILDREN.
func (p *rawParser) children(depth int, fn func(RawDir) error) error {
	if _, err := p.expect('=', "'=' after CHILDREN"); err != nil {
		return err
	}
	if _, err := p.expect('(', "'(' after CHILDREN ="); err != nil {
		return err
	}
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind == ')' {
		return nil
	}
	for {
		if t.kind != '{' {
			return p.errorf(t.line, "%s in CHILDREN: each child is a directory in '{' '}', separated by ','", t)
		}
		if err := p.dir(depth+1, t.line, fn); err != nil {
			return err
		}
		if t, err = p.next(); err != nil {
			return err
		}
		switch t.kind {
		case ')':
			return nil
		case ',':
			if t, err = p.next(); err != nil {
				return err
			}
		case tokEOF:
			return p.errorf(t.line, "the CHILDREN list is never closed with ')': the dump is cut short")
		default:
			return p.errorf(t.line, "%s after a child directory: children are separated by ',' and the list ends with ')'", t)
		}
	}
}

// RawWriter writes directories in `nidump -r` form, with nidump's layout:
// two spaces of indentation a level, one property a line, values joined by
// ", ", children in `CHILDREN = ( ... )`. Directories are written in the
// order ReadRaw gives them: a directory, then its children.
type RawWriter struct {
	bw    *bufio.Writer
	open  []bool // per open directory: whether its CHILDREN list is open
	wrote bool
	err   error
}

// NewRawWriter returns a writer to w. Call Close after the last directory.
func NewRawWriter(w io.Writer) *RawWriter {
	return &RawWriter{bw: bufio.NewWriter(w)}
}

// Write writes one directory. The first has depth 0; each next one is at
// most one deeper than the one before it, and never at depth 0 again.
func (w *RawWriter) Write(d RawDir) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case !w.wrote && d.Depth != 0:
		return errors.New("nidump: RawWriter: the first directory must have depth 0")
	case w.wrote && (d.Depth < 1 || d.Depth > len(w.open)):
		return fmt.Errorf("nidump: RawWriter: directory at depth %d after one at depth %d", d.Depth, len(w.open)-1)
	}
	w.closeTo(d.Depth)
	if d.Depth > 0 {
		parent := d.Depth - 1
		if !w.open[parent] {
			w.open[parent] = true
			w.indent(2*(2*parent) + 2)
			w.bw.WriteString("CHILDREN = (\n")
		} else {
			w.bw.WriteString(",\n")
		}
	}
	w.wrote = true
	ind := 2 * (2 * d.Depth)
	w.indent(ind)
	w.bw.WriteString("{\n")
	for _, p := range d.Props {
		w.indent(ind + 2)
		writeRawString(w.bw, p.Key)
		w.bw.WriteString(" = (")
		for i, v := range p.Values {
			if i > 0 {
				w.bw.WriteByte(',')
			}
			w.bw.WriteByte(' ')
			writeRawString(w.bw, v)
		}
		w.bw.WriteString(" );\n")
	}
	w.open = append(w.open, false)
	return nil
}

// closeTo closes directories until depth are open.
func (w *RawWriter) closeTo(depth int) {
	for len(w.open) > depth {
		i := len(w.open) - 1
		ind := 2 * (2 * i)
		if w.open[i] {
			w.bw.WriteByte('\n')
			w.indent(ind + 2)
			w.bw.WriteString(")\n")
		}
		w.indent(ind)
		w.bw.WriteByte('}')
		w.open = w.open[:i]
	}
}

func (w *RawWriter) indent(n int) {
	for range n {
		w.bw.WriteByte(' ')
	}
}

// Close closes every open directory and flushes.
func (w *RawWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.closeTo(0)
	if w.wrote {
		w.bw.WriteByte('\n')
	}
	w.err = w.bw.Flush()
	return w.err
}

// writeRawString writes s double-quoted, with `"` and `\` escaped.
func writeRawString(bw *bufio.Writer, s string) {
	bw.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			bw.WriteByte('\\')
		}
		bw.WriteByte(s[i])
	}
	bw.WriteByte('"')
}

// ReadRawAliases reads `nidump -r /aliases DOMAIN` output and calls fn
// with each alias: every child of the dumped directory with a "name" and
// at least one "members" value (nidump aliases skips the others too). The
// name is the first "name" value; the members are every "members" value,
// kept exactly, commas and spaces included. Line is the line of the name.
// A name or member holding a line break cannot be written to an aliases
// file and is an error.
func ReadRawAliases(r io.Reader, name string, fn func(Alias) error) error {
	return ReadRaw(r, name, func(d RawDir) error {
		if d.Depth != 1 {
			return nil
		}
		n, ok := d.Prop("name")
		if !ok || len(n.Values) == 0 || n.Values[0] == "" {
			return nil
		}
		var members []string
		for _, p := range d.Props {
			if p.Key == "members" {
				members = append(members, p.Values...)
			}
		}
		if len(members) == 0 {
			return nil
		}
		a := Alias{Name: n.Values[0], Members: members, Line: n.Line}
		if strings.ContainsAny(a.Name, "\r\n") {
			return &ParseError{File: name, Line: n.Line, Err: fmt.Errorf("alias name %q holds a line break, which an aliases file cannot hold: rename it in the domain", truncate(a.Name))}
		}
		for _, m := range members {
			if strings.ContainsAny(m, "\r\n") {
				return &ParseError{File: name, Line: n.Line, Err: fmt.Errorf("alias %s: member %q holds a line break, which an aliases file cannot hold: fix it in the domain", a.Name, truncate(m))}
			}
		}
		return fn(a)
	})
}

// ReadRawPasswd reads `nidump -r /users DOMAIN` output and calls fn with
// each user: every child of the dumped directory with a "name", in the
// 10-field form nidump passwd prints on Mac OS X (a missing property is
// empty, except change and expire, which are "0"). A value holding ':' or
// a line break cannot be written to a passwd line and is an error.
func ReadRawPasswd(r io.Reader, name string, fn func(PasswdEntry) error) error {
	return ReadRaw(r, name, func(d RawDir) error {
		if d.Depth != 1 {
			return nil
		}
		get := func(key, def string) string {
			if p, ok := d.Prop(key); ok && len(p.Values) > 0 {
				return p.Values[0]
			}
			return def
		}
		n, ok := d.Prop("name")
		if !ok || len(n.Values) == 0 || n.Values[0] == "" {
			return nil
		}
		e := PasswdEntry{
			Name: n.Values[0], Passwd: get("passwd", ""), UID: get("uid", ""), GID: get("gid", ""),
			Class: get("class", ""), Change: get("change", "0"), Expire: get("expire", "0"),
			RealName: get("realname", ""), Home: get("home", ""), Shell: get("shell", ""),
			Form: Form10, Line: n.Line,
		}
		for _, f := range []struct{ key, v string }{
			{"name", e.Name}, {"passwd", e.Passwd}, {"uid", e.UID}, {"gid", e.GID}, {"class", e.Class},
			{"change", e.Change}, {"expire", e.Expire}, {"realname", e.RealName}, {"home", e.Home}, {"shell", e.Shell},
		} {
			if strings.ContainsAny(f.v, ":\r\n") {
				return &ParseError{File: name, Line: n.Line, Err: fmt.Errorf("user %s: %s %q holds ':' or a line break, which a passwd line cannot hold: fix it in the domain", truncate(e.Name), f.key, truncate(f.v))}
			}
		}
		return fn(e)
	})
}
