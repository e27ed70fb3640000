package aliasfmt

import (
	"bytes"
	"testing"

	"github.com/peoplesync/peoplesync/nidump"
)

// FuzzFastChunk checks the fast path against the reader that defines the
// format: whenever fastChunk accepts an input, the reader must read it
// without error, and both must write the same bytes and count the same
// entries and lines.
func FuzzFastChunk(f *testing.F) {
	for _, s := range fastChunkCases {
		f.Add(s.in, false)
		f.Add(s.in, true)
	}
	f.Fuzz(func(t *testing.T, in string, grep bool) {
		checkFastChunk(t, in, grep)
	})
}

// fastChunkCases are inputs the fast path takes (fast: true) or leaves to
// the reader.
var fastChunkCases = []struct {
	in   string
	fast bool
}{
	{"jnewberg: jnewberg@earth\nJulia_Newberg: jnewberg\n", true},
	{"staff: a@earth,b,\n\tc@EARTH.example.com,d@earthling,\n\te@venus.example.com.,f@earth.\n", true},
	{"# a comment\nx: y@earth,\n# inside an entry\n\tz\n", true},
	{"a:\nb: ,, ,\nc: Julia Newberg@earth,\tq@earth , r@ earth\n", true},
	{"g: a@earth,b@mars\nh: x@y@earth,@earth,me@,|prog@earth,/f@earth,:include:/l@earth\n", true},
	{"last: no newline@earth,x", true},
	{"a:\n\tx,\n\ty\n", true},
	{"a b : x\n", true},
	{"a: x\n\ty\n", false},        // a member spans the break
	{"a: x\n\nb: y\n", false},     // blank line
	{"a: x\r\n", false},           // CRLF
	{"a: \"q,r\"@earth\n", false}, // quotes
	{"\tx\n", false},              // continuation first
	{"a: x,\n\t \n", false},       // white-space-only line
	{"nocolon\n", false},          // an error
	{": x\n", false},              // an empty name
}

func TestFastChunk(t *testing.T) {
	for _, c := range fastChunkCases {
		for _, grep := range []bool{false, true} {
			if got := checkFastChunk(t, c.in, grep); got != c.fast {
				t.Errorf("fastChunk(%q) took it: %v, want %v", c.in, got, c.fast)
			}
		}
	}
}

// checkFastChunk fails t when fastChunk and the reader disagree on in, and
// reports whether fastChunk took it.
func checkFastChunk(t *testing.T, in string, grep bool) bool {
	t.Helper()
	opts := Options{MailServers: []string{"earth", "venus.example.com"}}
	if grep {
		opts.Mode = Grep
	}
	s, err := NewStripper(opts)
	if err != nil {
		t.Fatal(err)
	}
	fast := &Writer{s: s, buf: []byte("before\n")}
	lines, ok := fast.fastChunk([]byte(in))
	if !ok {
		if string(fast.buf) != "before\n" || fast.stats != (Stats{}) {
			t.Fatalf("fastChunk(%q) refused it but changed the writer: %q %+v", in, fast.buf, fast.stats)
		}
		return false
	}
	slow := &Writer{s: s, buf: []byte("before\n")}
	ar := nidump.NewAliasReader(nil, "in")
	ar.ResetBytes([]byte(in))
	st, err := slow.format(ar)
	if err != nil {
		t.Fatalf("fastChunk took %q, which the reader refuses: %v", in, err)
	}
	if string(fast.buf) != string(slow.buf) || fast.stats != st {
		t.Fatalf("fastChunk(%q):\n%q %+v\nreader:\n%q %+v", in, fast.buf, fast.stats, slow.buf, st)
	}
	if want := bytes.Count([]byte(in), []byte{'\n'}); lines != want {
		t.Fatalf("fastChunk(%q) counted %d lines, want %d", in, lines, want)
	}
	return true
}
