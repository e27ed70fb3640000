package aliasfmt_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/aliasfmt"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the current output")

// optionsFrom reads the test options from the input's header comments:
// `# servers: a b` and `# mode: grep`.
func optionsFrom(t *testing.T, input []byte) aliasfmt.Options {
	t.Helper()
	var opts aliasfmt.Options
	s := bufio.NewScanner(bytes.NewReader(input))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if v, ok := strings.CutPrefix(line, "# servers:"); ok {
			opts.MailServers = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(line, "# mode:"); ok {
			opts.Mode = aliasfmt.Mode(strings.TrimSpace(v))
		}
	}
	return opts
}

func format(t *testing.T, in []byte, opts aliasfmt.Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := aliasfmt.Format(bytes.NewReader(in), &out, "input", opts, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.input")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input")
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			opts := optionsFrom(t, input)
			got := format(t, input, opts)
			golden := strings.TrimSuffix(in, ".input") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			if bytes.Contains(got, []byte("\r")) {
				t.Errorf("output has a CR: line endings must be LF")
			}
			// Idempotence: formatting the golden file again changes nothing.
			if again := format(t, want, opts); !bytes.Equal(again, want) {
				t.Errorf("formatting %s again changed it:\n%s", golden, again)
			}
		})
	}
}
