package nidump

import (
	"strings"
	"testing"
)

// TestLineTooLong: every reader refuses a line longer than MaxLine with
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
