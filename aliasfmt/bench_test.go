package aliasfmt_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/internal/nidumpgen"
)

// BenchmarkFormat formats a generated 100,000-entry wrapped nidump dump.
// `make bench` compares the whole command with an awk pipeline.
func BenchmarkFormat(b *testing.B) {
	var buf bytes.Buffer
	d := nidumpgen.Domain{Users: 47500, Lists: 5000, Members: 60, Servers: []string{"earth", "venus"}}
	if _, err := d.WriteAliases(&buf); err != nil {
		b.Fatal(err)
	}
	opts := aliasfmt.Options{MailServers: []string{"earth", "venus"}}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aliasfmt.Format(bytes.NewReader(buf.Bytes()), io.Discard, "bench", opts, nil); err != nil {
			b.Fatal(err)
		}
	}
}
