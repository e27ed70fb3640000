package nidump_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/nidump"
)

func readAliases(t testing.TB, in string) ([]nidump.Alias, error) {
	t.Helper()
	r := nidump.NewAliasReader(strings.NewReader(in), "aliases")
	var out []nidump.Alias
	for {
		a, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
}

func TestAliasReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // Alias.String() of each entry
		err  string   // substring of the error, if one is expected
	}{
		{"one line", "staff: a,b,c\n", []string{"staff: a,b,c"}, ""},
		{"nidump wrap", "staff: user01@mail.example.com,user02@mail.example.com,\n\tuser03@mail.example.com,user04@mail.example.com,\n\tuser05@mail.example.com\n",
			[]string{"staff: user01@mail.example.com,user02@mail.example.com,user03@mail.example.com,user04@mail.example.com,user05@mail.example.com"}, ""},
		{"nidump first member too long", "big: \n\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,\n\tb\n",
			[]string{"big: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,b"}, ""},
		{"aliases(5) spaces", "postmaster:   root ,  admin\n", []string{"postmaster: root,admin"}, ""},
		{"space continuation", "team: a,\n    b,\n  c\n", []string{"team: a,b,c"}, ""},
		{"CRLF", "a: x,y\r\nb: z\r\n", []string{"a: x,y", "b: z"}, ""},
		{"CRLF wrapped", "a: x,\r\n\ty\r\n", []string{"a: x,y"}, ""},
		{"comments and blanks", "# header\n\na: x,\n# inside\n\ty\n\nb: z\n", []string{"a: x,y", "b: z"}, ""},
		{"empty members dropped", "a: x,,y,\n", []string{"a: x,y"}, ""},
		{"trailing comma then continuation", "a: x,\n\t,y\n", []string{"a: x,y"}, ""},
		{"no members dropped", "empty:\nalso: ,\nb: z\n", []string{"b: z"}, ""},
		{"programs and files verbatim", `prog: |/usr/bin/vacation jdoe, /var/log/mail.log, :include:/etc/mail/staff, "|exit 67"` + "\n",
			[]string{`prog: |/usr/bin/vacation jdoe,/var/log/mail.log,:include:/etc/mail/staff,"|exit 67"`}, ""},
		{"comma in quotes", `q: "|/bin/filter a,b", c` + "\n", []string{`q: "|/bin/filter a,b",c`}, ""},
		{"escaped quote", `q: "a\"b,c", d` + "\n", []string{`q: "a\"b,c",d`}, ""},
		{"quoted name", `"with space": a` + "\n", []string{`"with space": a`}, ""},
		{"quoted name with colon", `"a:b" : c` + "\n", []string{`"a:b": c`}, ""},
		{"input order kept", "z: 1\na: 2\nm: 3\n", []string{"z: 1", "a: 2", "m: 3"}, ""},
		{"duplicates kept", "a: 1\na: 2\n", []string{"a: 1", "a: 2"}, ""},
		{"no final newline", "a: 1", []string{"a: 1"}, ""},
		{"orphan continuation", "\tb\n", nil, "aliases:1: continuation line"},
		{"continuation after blank", "a: x\n\n\ty\n", []string{"a: x"}, "aliases:3: continuation line"},
		{"missing colon", "a: x\nnocolon here\n", []string{"a: x"}, "aliases:2: missing ':'"},
		{"empty name", ": x\n", nil, "aliases:1: empty alias name"},
		{"unterminated quote", "a: \"x, y\n", nil, "aliases:1: alias a: member"},
		{"unterminated quoted name", "\"a: x\n", nil, "aliases:1: alias name has an opening"},
		{"error at entry start line", "a: x,\n\t\"y\n", nil, "aliases:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAliases(t, tt.in)
			var lines []string
			for _, a := range got {
				lines = append(lines, a.String())
			}
			if !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("entries = %q, want %q", lines, tt.want)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error = %v, want one containing %q", err, tt.err)
			}
			var pe *nidump.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %v is not a *ParseError", err)
			}
		})
	}
}

func TestAliasReaderLinesAndDropped(t *testing.T) {
	r := nidump.NewAliasReader(strings.NewReader("# c\na: x,\n\ty\nnone:\nb: z\n"), "")
	var lines []int
	for {
		a, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, a.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 5}) {
		t.Errorf("lines = %v, want [2 5]", lines)
	}
	if d := r.Dropped(); len(d) != 1 || d[0].Name != "none" || d[0].Line != 4 {
		t.Errorf("Dropped() = %+v, want the entry 'none' at line 4", d)
	}
	// After EOF, Next keeps returning EOF.
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF = %v", err)
	}
}

func TestPasswdReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []nidump.PasswdEntry
		err  string
	}{
		{"ten fields", "jnewberg:abXYZ:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh\n",
			[]nidump.PasswdEntry{{Name: "jnewberg", Passwd: "abXYZ", UID: "1001", GID: "20", Change: "0", Expire: "0", RealName: "Julia Newberg", Home: "/Users/jnewberg", Shell: "/bin/csh", Form: nidump.Form10, Line: 1}}, ""},
		{"seven fields", "root:*:0:1:Operator:/:/bin/csh\r\n",
			[]nidump.PasswdEntry{{Name: "root", Passwd: "*", UID: "0", GID: "1", RealName: "Operator", Home: "/", Shell: "/bin/csh", Form: nidump.Form7, Line: 1}}, ""},
		{"comments and blanks skipped", "# x\n\nroot:*:0:1:Operator:/:/bin/csh\n", []nidump.PasswdEntry{{Name: "root", Passwd: "*", UID: "0", GID: "1", RealName: "Operator", Home: "/", Shell: "/bin/csh", Form: nidump.Form7, Line: 3}}, ""},
		{"eight fields", "root:*:0:1:Operator:/:/bin/csh\nbad:*:0:1:x:y:/:/bin/sh\n", []nidump.PasswdEntry{{Name: "root", Passwd: "*", UID: "0", GID: "1", RealName: "Operator", Home: "/", Shell: "/bin/csh", Form: nidump.Form7, Line: 1}}, "passwd:2: 8 colon-separated fields"},
		{"empty name", ":*:0:1:x:/:/bin/sh\n", nil, "passwd:1: empty user name"},
		{"one field", "garbage\n", nil, "passwd:1: 1 colon-separated fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := nidump.NewPasswdReader(strings.NewReader(tt.in), "passwd")
			var got []nidump.PasswdEntry
			var err error
			for {
				var e nidump.PasswdEntry
				e, err = r.Next()
				if err != nil {
					break
				}
				got = append(got, e)
			}
			if err == io.EOF {
				err = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries = %+v, want %+v", got, tt.want)
			}
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestPasswdWritesFormRead(t *testing.T) {
	for _, line := range []string{
		"jnewberg:abXYZ:1001:20:staff:0:0:Julia Newberg:/Users/jnewberg:/bin/csh",
		"root:*:0:1:Operator:/:/bin/csh",
		"x::::::",
	} {
		e, err := nidump.ParsePasswdLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.String(); got != line {
			t.Errorf("round trip %q -> %q", line, got)
		}
	}
}
