package aliasfmt_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/nidump"
)

// FuzzFormat checks that the allocation-free path (Format) and the
// per-entry path (nidump.Next then Writer.Write, used by the maildb job)
// write the same bytes, and that formatting the output again changes
// nothing.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		"jnewberg: jnewberg@earth\nstaff: a@earth,b,\n\tc@EARTH.example.com,d@earthling\n",
		"a: x@venus\r\nb: \"q,r\"@earth, |prog, /file\n",
		"g: a@earth,b@mars\n",
		"x: y@earth.\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, grep bool) {
		opts := aliasfmt.Options{MailServers: []string{"earth", "venus.example.com"}}
		if grep {
			opts.Mode = aliasfmt.Grep
		}
		var fast bytes.Buffer
		st1, err1 := aliasfmt.Format(strings.NewReader(in), &fast, "in", opts, nil)

		var slow bytes.Buffer
		w, _ := aliasfmt.NewWriter(&slow, opts, nil)
		r := nidump.NewAliasReader(strings.NewReader(in), "in")
		var err2 error
		for {
			a, err := r.Next()
			if err != nil {
				if err != io.EOF {
					err2 = err
				}
				break
			}
			w.Write(a)
		}
		w.Flush()
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("errors differ: %v / %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if fast.String() != slow.String() || st1 != w.Stats() {
			t.Fatalf("paths differ:\nFormat: %q %+v\nWriter: %q %+v", fast.String(), st1, slow.String(), w.Stats())
		}
		var again bytes.Buffer
		if _, err := aliasfmt.Format(bytes.NewReader(fast.Bytes()), &again, "out", aliasfmt.Options{}, nil); err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, fast.String())
		}
		if again.String() != fast.String() {
			t.Fatalf("not idempotent:\n%q\n%q", fast.String(), again.String())
		}
	})
}
