package nidump_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/nidump"
)

// FuzzAliases checks that parse -> format -> parse is stable: formatting
// what was read and reading it again gives the same entries.
func FuzzAliases(f *testing.F) {
	for _, s := range []string{
		"staff: a,b,\n\tc\n",
		"a: x\r\n# c\n\ty\n\nb: \"q,r\", |prog, /file, :include:/x\n",
		"\"n m\": a\n",
		"big: \n\tlong,\n\tb\n",
		"a: \"x\\\"y,z\",w\n",
		"bad\n",
		"\tx\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		first, err := readAliases(t, in)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		for _, a := range first {
			buf.Write(a.AppendText(nil))
			buf.WriteByte('\n')
		}
		second, err := readAliases(t, buf.String())
		if err != nil {
			t.Fatalf("re-reading formatted output: %v\ninput %q\nformatted %q", err, in, buf.String())
		}
		if len(first) != len(second) {
			t.Fatalf("%d entries, then %d after formatting\ninput %q\nformatted %q", len(first), len(second), in, buf.String())
		}
		for i := range first {
			if first[i].Name != second[i].Name || !reflect.DeepEqual(first[i].Members, second[i].Members) {
				t.Fatalf("entry %d: %q became %q", i, first[i].String(), second[i].String())
			}
		}
	})
}

// FuzzPasswd checks that a parsed passwd line is written back unchanged.
func FuzzPasswd(f *testing.F) {
	f.Add("jnewberg:ab:1001:20:staff:0:0:Julia Newberg:/Users/jnewberg:/bin/csh\nroot:*:0:1:Operator:/:/bin/csh\n")
	f.Add("a:b\n")
	f.Add("# c\r\n\r\nx::::::\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := nidump.NewPasswdReader(strings.NewReader(in), "")
		var out bytes.Buffer
		var first []nidump.PasswdEntry
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			first = append(first, e)
			out.WriteString(e.String())
			out.WriteByte('\n')
		}
		r = nidump.NewPasswdReader(&out, "")
		for i := 0; ; i++ {
			e, err := r.Next()
			if err == io.EOF {
				if i != len(first) {
					t.Fatalf("read %d entries back, want %d", i, len(first))
				}
				return
			}
			if err != nil {
				t.Fatalf("re-reading: %v", err)
			}
			e.Line = first[i].Line
			if e != first[i] {
				t.Fatalf("entry %d: %+v became %+v", i, first[i], e)
			}
		}
	})
}
