package nidump

import (
	"strings"
	"testing"
)

// TestLineTooLong: every reader refuses a line of MaxLine bytes or more with
// the same error, naming the line, whether it reads a stream or memory.
func TestLineTooLong(t *testing.T) {
	in := "a: x\n" + strings.Repeat("y", MaxLine+1) + ": z\n"
	check := func(what string, err error) {
		t.Helper()
		if err == nil || err.Error() != "in:2: "+errLineTooLong.Error() {
			t.Errorf("%s: %v, want in:2: %v", what, err, errLineTooLong)
		}
	}
	readAll := func(r *AliasReader) error {
		for {
			if _, err := r.NextRaw(); err != nil {
				return err
			}
		}
	}
	check("AliasReader", readAll(NewAliasReader(strings.NewReader(in), "in")))
	mem := NewAliasReader(nil, "in")
	mem.ResetBytes([]byte(in))
	check("AliasReader in memory", readAll(mem))
	pr := NewPasswdReader(strings.NewReader("root:*:0:1::/:/bin/sh\n"+strings.Repeat("y", MaxLine+1)+"\n"), "in")
	var err error
	for err == nil {
		_, err = pr.Next()
	}
	check("PasswdReader", err)
}

// TestLineAtTheLimit: a line one byte under MaxLine is read by every
// reader; one of MaxLine bytes by none.
func TestLineAtTheLimit(t *testing.T) {
	for _, tc := range []struct {
		n    int
		fail bool
	}{{MaxLine - 1, false}, {MaxLine, true}} {
		in := "a: " + strings.Repeat("y", tc.n-3) + "\n"
		stream := NewAliasReader(strings.NewReader(in), "in")
		_, err1 := stream.NextRaw()
		mem := NewAliasReader(nil, "in")
		mem.ResetBytes([]byte(in))
		_, err2 := mem.NextRaw()
		for _, err := range []error{err1, err2} {
			if (err != nil) != tc.fail {
				t.Errorf("a line of %d bytes: %v, want failure %v", tc.n, err, tc.fail)
			}
		}
	}
}
