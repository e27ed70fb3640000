// Package nidump parses the text a NetInfo-era mail domain is dumped as:
// `nidump passwd` and `nidump aliases` output, and sendmail/Postfix
// aliases(5) files. It is pure: readers in, values out, writers out.
package nidump

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PasswdForm is the shape of a passwd line: the 10-field BSD master.passwd
// order nidump prints on Mac OS X, or the 7-field 4.3BSD order niload also
// accepts.
type PasswdForm int

// The passwd line forms.
const (
	// Form10 is name:passwd:uid:gid:class:change:expire:realname:home:shell.
	Form10 PasswdForm = 10
	// Form7 is name:passwd:uid:gid:realname:home:shell.
	Form7 PasswdForm = 7
)

// PasswdEntry is one user of the domain. Fields are kept as the text that
// was read, so an entry is written back exactly.
type PasswdEntry struct {
	Name     string
	Passwd   string
	UID      string
	GID      string
	Class    string // Form10 only
	Change   string // Form10 only
	Expire   string // Form10 only
	RealName string
	Home     string
	Shell    string
	// Form is the form the entry was read in and is written back in.
	Form PasswdForm
	// Line is the line number the entry was read from (0 when not read).
	Line int
}

// ParsePasswdLine parses one passwd line (without its line ending).
func ParsePasswdLine(line string) (PasswdEntry, error) {
	f := strings.Split(line, ":")
	switch len(f) {
	case 10:
		return PasswdEntry{
			Name: f[0], Passwd: f[1], UID: f[2], GID: f[3], Class: f[4],
			Change: f[5], Expire: f[6], RealName: f[7], Home: f[8], Shell: f[9],
			Form: Form10,
		}, nil
	case 7:
		return PasswdEntry{
			Name: f[0], Passwd: f[1], UID: f[2], GID: f[3],
			RealName: f[4], Home: f[5], Shell: f[6], Form: Form7,
		}, nil
	}
	return PasswdEntry{}, fmt.Errorf("%d colon-separated fields, want 10 (name:passwd:uid:gid:class:change:expire:realname:home:shell) or 7 (name:passwd:uid:gid:realname:home:shell)", len(f))
}

// AppendText appends the entry as one passwd line, without a line ending,
// in the form it was read.
func (e PasswdEntry) AppendText(b []byte) []byte {
	b = append(b, e.Name...)
	b = append(b, ':')
	b = append(b, e.Passwd...)
	b = append(b, ':')
	b = append(b, e.UID...)
	b = append(b, ':')
	b = append(b, e.GID...)
	b = append(b, ':')
	if e.Form != Form7 {
		b = append(b, e.Class...)
		b = append(b, ':')
		b = append(b, e.Change...)
		b = append(b, ':')
		b = append(b, e.Expire...)
		b = append(b, ':')
	}
	b = append(b, e.RealName...)
	b = append(b, ':')
	b = append(b, e.Home...)
	b = append(b, ':')
	b = append(b, e.Shell...)
	return b
}

// String returns the entry as one passwd line.
func (e PasswdEntry) String() string { return string(e.AppendText(nil)) }

// PasswdReader reads passwd entries one at a time, so a dump of any size is
// read in bounded memory. Blank lines and lines starting with '#' are
// skipped; a line with another field count is an error naming its line.
type PasswdReader struct {
	s    *bufio.Scanner
	line int
	name string
}

// NewPasswdReader returns a reader of passwd entries. name labels errors
// (a file name or "nidump passwd"); it may be empty.
func NewPasswdReader(r io.Reader, name string) *PasswdReader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), MaxLine)
	return &PasswdReader{s: s, name: name}
}

// MaxLine bounds one physical line of a dump: a line of MaxLine bytes or
// more is an error, never held in memory (bufio.Scanner's limit with a
// buffer of MaxLine bytes).
const MaxLine = 16 << 20

// Next returns the next entry, or io.EOF after the last one.
func (r *PasswdReader) Next() (PasswdEntry, error) {
	for r.s.Scan() {
		r.line++
		text := strings.TrimSuffix(r.s.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		e, err := ParsePasswdLine(text)
		if err != nil {
			return PasswdEntry{}, &ParseError{File: r.name, Line: r.line, Err: err}
		}
		if e.Name == "" {
			return PasswdEntry{}, &ParseError{File: r.name, Line: r.line, Err: fmt.Errorf("empty user name")}
		}
		e.Line = r.line
		return e, nil
	}
	if err := r.s.Err(); errors.Is(err, bufio.ErrTooLong) {
		return PasswdEntry{}, &ParseError{File: r.name, Line: r.line + 1, Err: errLineTooLong}
	} else if err != nil {
		return PasswdEntry{}, &ParseError{File: r.name, Line: r.line + 1, Err: err}
	}
	return PasswdEntry{}, io.EOF
}

// ParseError is a malformed line in a dump.
type ParseError struct {
	File string // what was read; may be empty
	Line int    // 1-based line number
	Err  error
}

func (e *ParseError) Error() string {
	name := e.File
	if name == "" {
		name = "input"
	}
	return fmt.Sprintf("%s:%d: %v", name, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }
