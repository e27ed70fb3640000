package nidump_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/nidump"
)

// aliasesRaw is `nidump -r /aliases /mail` output in nidump's layout.
const aliasesRaw = `{
  "name" = ( "aliases" );
  CHILDREN = (
    {
      "name" = ( "postmaster" );
      "members" = ( "root" );
    },
    {
      "name" = ( "staff" );
      "members" = ( "jnewberg@earth", "Smith, Kim <ksmith@venus>", "|\"/usr/bin/filter a,b\"", "\root" );
    },
    {
      "name" = ( "nobody-home" );
      "members" = ( );
    },
    {
      "members" = ( "orphan" );
    },
    {
      "name" = ( "Zoë", "zoe2" );
      "members" = ( "zoë@example.org" );
      "members" = ( "second" );
    }
  )
}
`

func readRaw(t testing.TB, in string) ([]nidump.RawDir, error) {
	t.Helper()
	var out []nidump.RawDir
	err := nidump.ReadRaw(strings.NewReader(in), "raw", func(d nidump.RawDir) error {
		out = append(out, d)
		return nil
	})
	return out, err
}

func TestReadRawAliases(t *testing.T) {
	var got []nidump.Alias
	err := nidump.ReadRawAliases(strings.NewReader(aliasesRaw), "nidump -r /aliases /mail", func(a nidump.Alias) error {
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []nidump.Alias{
		{Name: "postmaster", Members: []string{"root"}, Line: 5},
		// Every value exactly: the comma inside a member, the quotes and
		// the backslash of \root.
		{Name: "staff", Members: []string{"jnewberg@earth", "Smith, Kim <ksmith@venus>", `|"/usr/bin/filter a,b"`, `\root`}, Line: 9},
		// No members and no name are skipped, as nidump aliases does; the
		// first name wins; repeated "members" properties add up.
		{Name: "Zoë", Members: []string{"zoë@example.org", "second"}, Line: 20},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestReadRawPasswd(t *testing.T) {
	in := `{ "name" = ( "users" ); CHILDREN = (
	{ "name" = ( "root" ); "passwd" = ( "*" ); "uid" = ( "0" ); "gid" = ( "1" ); "realname" = ( "Operator" ); "home" = ( "/" ); "shell" = ( "/bin/csh" ); },
	{ "name" = ( "jnewberg" ); "passwd" = ( "ab" ); "uid" = ( "1001" ); "gid" = ( "20" ); "change" = ( "5" ); "expire" = ( "6" ); "class" = ( "staff" );
	  "realname" = ( "Julia Newberg" ); "home" = ( "/Users/jnewberg" ); "shell" = ( "/bin/csh" ); "_writers_passwd" = ( "jnewberg" ) }
	) }`
	var got []string
	err := nidump.ReadRawPasswd(strings.NewReader(in), "users", func(e nidump.PasswdEntry) error {
		got = append(got, e.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"root:*:0:1::0:0:Operator:/:/bin/csh", "jnewberg:ab:1001:20:staff:5:6:Julia Newberg:/Users/jnewberg:/bin/csh"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	bad := `{ CHILDREN = ( { "name" = ( "x" ); "realname" = ( "A: B" ); } ) }`
	err = nidump.ReadRawPasswd(strings.NewReader(bad), "users", func(nidump.PasswdEntry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `users:1: user x: realname "A: B" holds ':'`) {
		t.Errorf("colon in a field: %v", err)
	}
}

func TestReadRaw(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // each directory as depth:key=v|v;key=...
		err  string
	}{
		{"empty dir", "{}", "0:", ""},
		{"compact", `{"a"=("1","2");"b"=()}`, "0:a=1|2;b=", ""},
		{"semicolons optional", `{ "a" = ( "1" ) "b" = ( "2" ) }`, "0:a=1;b=2", ""},
		{"spacing only matters in quotes", "{\n\t\"a b\"\r\n=\n(\" x ,y \"\n)\n;}", "0:a b= x ,y ", ""},
		{"escapes", `{ "k" = ( "a\"b", "c\\d", "\root", "e\nf" ); }`, `0:k=a"b|c\d|\root|e\nf`, ""},
		{"newline in a value", "{ \"k\" = ( \"a\nb\" ); }", "0:k=a\nb", ""},
		{"nested", `{ "n" = ( "/" ); CHILDREN = ( { "n" = ( "a" ); CHILDREN = ( { "n" = ( "a1" ); } ) }, { "n" = ( "b" ); } ); }`,
			"0:n=/ 1:n=a 2:n=a1 1:n=b", ""},
		{"empty children", `{ "n" = ( "x" ); CHILDREN = ( ) }`, "0:n=x", ""},
		{"quoted CHILDREN is a key", `{ "CHILDREN" = ( "x" ); }`, "0:CHILDREN=x", ""},
		{"empty input", "", "", "raw:1: empty input"},
		{"not a brace", `"a" = ( "b" );`, "", "raw:1: string \"a\": `nidump -r` output starts with '{'"},
		{"unclosed string", "{ \"a\" = ( \"b );\n}\n", "", `raw:1: a string opened with '"' is never closed`},
		{"cut short", "{\n \"a\" = ( \"b\" );\n CHILDREN = (\n  { \"n\" = ( \"x\" ); },\n  {", "0:a=b 1:n=x", "raw:5: the directory opened on line 5 is never closed"},
		{"missing comma between values", `{ "a" = ( "b" "c" ); }`, "", `raw:1: string "c" in the values of "a"`},
		{"trailing comma in values", `{ "a" = ( "b", ); }`, "", `raw:1: ')' after ',' in the values of "a": a value was expected`},
		{"bare key", `{ name = ( "b" ); }`, "", `raw:1: word "name": a property key is a double-quoted string`},
		{"property after children", "{ CHILDREN = ( );\n \"late\" = ( \"x\" ); }", "0:", `raw:2: string "late" after CHILDREN`},
		{"junk after", `{ } }`, "0:", "raw:1: '}' after the closing '}'"},
		{"missing comma between children", `{ CHILDREN = ( { } { } ) }`, "0: 1:", "raw:1: '{' after a child directory"},
		{"too deep", strings.Repeat(`{ CHILDREN = ( `, 300), "", "nested more than 256 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs, err := readRaw(t, tt.in)
			if tt.name == "too deep" {
				dirs = nil
			}
			if got := showDirs(dirs); got != tt.want {
				t.Errorf("directories %q, want %q", got, tt.want)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
			var pe *nidump.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
		})
	}
}

func showDirs(dirs []nidump.RawDir) string {
	var parts []string
	for _, d := range dirs {
		var props []string
		for _, p := range d.Props {
			props = append(props, p.Key+"="+strings.Join(p.Values, "|"))
		}
		parts = append(parts, fmt.Sprintf("%d:%s", d.Depth, strings.Join(props, ";")))
	}
	return strings.Join(parts, " ")
}

// TestRawWriterLayout pins the layout of formats.md: two spaces a level,
// `"key" = ( "v1", "v2" );`, `( );` for no values, children in
// `CHILDREN = (` ... `)` separated by `,`.
func TestRawWriterLayout(t *testing.T) {
	dirs, err := readRaw(t, aliasesRaw)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := nidump.NewRawWriter(&buf)
	for _, d := range dirs {
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The writer escapes every backslash, so \root is written "\\root"
	// (which reads back as \root too).
	want := strings.Replace(aliasesRaw, `"\root"`, `"\\root"`, 1)
	if buf.String() != want {
		t.Errorf("written:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestRawWriterOrder(t *testing.T) {
	w := nidump.NewRawWriter(&bytes.Buffer{})
	if err := w.Write(nidump.RawDir{Depth: 1}); err == nil {
		t.Error("first directory at depth 1 accepted")
	}
	w = nidump.NewRawWriter(&bytes.Buffer{})
	w.Write(nidump.RawDir{})
	if err := w.Write(nidump.RawDir{Depth: 2}); err == nil {
		t.Error("a jump from depth 0 to 2 accepted")
	}
}

// FuzzRaw checks that parse -> format -> parse is stable and that
// formatting what was read back gives the same text.
func FuzzRaw(f *testing.F) {
	f.Add(aliasesRaw)
	f.Add(`{"a"=("1","2");"b"=()}`)
	f.Add(`{ "k" = ( "a\"b", "c\\d", "\root" ); CHILDREN = ( { }, { CHILDREN = ( { "x" = ( "" ) } ) } ); }`)
	f.Add("{ \"k\" = ( \"a\nb\" ) }")
	f.Add(`{ CHILDREN = ( { } { } ) }`)
	f.Fuzz(func(t *testing.T, in string) {
		first, err := readRaw(t, in)
		if err != nil {
			return
		}
		formatted := formatRaw(t, first)
		second, err := readRaw(t, formatted)
		if err != nil {
			t.Fatalf("re-reading formatted output: %v\ninput %q\nformatted %q", err, in, formatted)
		}
		if len(first) != len(second) {
			t.Fatalf("%d directories, then %d\ninput %q\nformatted %q", len(first), len(second), in, formatted)
		}
		for i := range first {
			a, b := first[i], second[i]
			if a.Depth != b.Depth || len(a.Props) != len(b.Props) {
				t.Fatalf("directory %d: %+v became %+v", i, a, b)
			}
			for j := range a.Props {
				if a.Props[j].Key != b.Props[j].Key || !reflect.DeepEqual(a.Props[j].Values, b.Props[j].Values) {
					t.Fatalf("directory %d property %d: %+v became %+v", i, j, a.Props[j], b.Props[j])
				}
			}
		}
		if again := formatRaw(t, second); again != formatted {
			t.Fatalf("formatting is not idempotent:\n%q\n%q", formatted, again)
		}
	})
}

func formatRaw(t *testing.T, dirs []nidump.RawDir) string {
	var buf bytes.Buffer
	w := nidump.NewRawWriter(&buf)
	for _, d := range dirs {
		if err := w.Write(d); err != nil {
			t.Fatalf("write %+v: %v", d, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func ExampleReadRawAliases() {
	raw := `{
  "name" = ( "aliases" );
  CHILDREN = (
    {
      "name" = ( "staff" );
      "members" = ( "jnewberg", "Smith, Kim <ksmith@venus>" );
    }
  )
}`
	nidump.ReadRawAliases(strings.NewReader(raw), "nidump -r /aliases /mail", func(a nidump.Alias) error {
		fmt.Printf("%s: %d members: %q\n", a.Name, len(a.Members), a.Members)
		return nil
	})
	// Output: staff: 2 members: ["jnewberg" "Smith, Kim <ksmith@venus>"]
}
