package aliasfmt

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/nidump"
)

// FuzzChunks checks that formatting in parallel chunks, cut as small as a
// few bytes, writes what the sequential path writes and fails the same way.
func FuzzChunks(f *testing.F) {
	for _, s := range []string{
		"a: x@earth\nb: y,\n\tz@earth\n# c\n\tw\nc: q\n\n\td\n",
		"staff: a,b,\n\tc\r\n#x\r\nbig: \n\tlong,\n\tv@venus\n",
		"x: \"q,r\"@earth\n\ty\nbroken\nz: w\n",
	} {
		f.Add(s, uint8(3))
		f.Add(s, uint8(40))
	}
	f.Fuzz(func(t *testing.T, in string, size uint8) {
		opts := Options{MailServers: []string{"earth", "venus"}}
		var seq bytes.Buffer
		st1, err1 := formatSequential(strings.NewReader(in), &seq, "in", opts, nil)
		var par bytes.Buffer
		st2, err2 := formatChunks(strings.NewReader(in), &par, "in", opts, int(size)+1, 2)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("errors differ:\nsequential: %v\nchunked:    %v", err1, err2)
		}
		if err1 != nil {
			// Output before an error is discarded by callers; only what
			// both wrote before it must agree.
			if !strings.HasPrefix(seq.String(), par.String()) && !strings.HasPrefix(par.String(), seq.String()) {
				t.Fatalf("outputs before the error differ:\n%q\n%q", seq.String(), par.String())
			}
			return
		}
		if seq.String() != par.String() || st1 != st2 {
			t.Fatalf("outputs differ:\nsequential %q %+v\nchunked    %q %+v", seq.String(), st1, par.String(), st2)
		}
	})
}

// TestLineTooLong: a line of nidump.MaxLine bytes or more is refused the same
// way, at the same line, by both paths, without being held whole.
func TestLineTooLong(t *testing.T) {
	in := "a: x\nb: " + strings.Repeat("y", nidump.MaxLine+10) + "\nc: z\n"
	opts := Options{MailServers: []string{"earth"}}
	_, err1 := formatSequential(strings.NewReader(in), io.Discard, "in", opts, nil)
	_, err2 := formatChunks(strings.NewReader(in), io.Discard, "in", opts, chunkSize, 2)
	for _, err := range []error{err1, err2} {
		if err == nil || !strings.Contains(err.Error(), "in:2: a line of 16 MiB or more") {
			t.Errorf("got %v, want in:2: a line of 16 MiB or more", err)
		}
	}
}
