// Command aliasfmt-bench times `peoplesync aliasfmt` on a generated
// 1,000,000-entry wrapped `nidump aliases` dump, side by side in the same
// run with the pipeline an admin would write instead: an awk join of
// nidump's continuation lines followed by the article's grep -v filters.
// It prints both times (median of several runs), the ratio and
// peoplesync's peak RSS.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/peoplesync/peoplesync/internal/bench/benchutil"
	"github.com/peoplesync/peoplesync/internal/nidumpgen"
)

// The pipeline a user would write: join continuation lines (a line that
// starts with a tab continues the previous one), then the article's
// grep -v per mail server.
const awkJoin = `/^\t/ { sub(/^\t/, ""); line = line $0; next } { if (NR > 1) print line; line = $0 } END { print line }`

func main() {
	entries := flag.Int("entries", 1_000_000, "alias entries in the generated dump")
	runs := flag.Int("runs", 7, "runs of each command (the median is reported)")
	flag.Parse()
	if err := run(*entries, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "aliasfmt-bench:", err)
		os.Exit(1)
	}
}

func run(entries, runs int) error {
	// On tmpfs when there is one, so that writing the outputs does not
	// make the disk's writeback part of either figure.
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "peoplesync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "peoplesync")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/peoplesync").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	dump := filepath.Join(dir, "aliases.nidump")
	f, err := os.Create(dump)
	if err != nil {
		return err
	}
	// Two aliases per user plus lists of 60 members (wrapped over ~12 lines).
	lists := entries / 20
	users := (entries - lists) / 2
	n, err := nidumpgen.Domain{Users: users, Lists: lists, Members: 60, Servers: []string{"earth", "venus"}}.WriteAliases(f)
	if err != nil {
		return err
	}
	f.Close()
	fi, _ := os.Stat(dump)
	lines, _ := countLines(dump)
	fmt.Printf("input: %d entries, %d lines, %.1f MB of wrapped nidump aliases output\n\n", n, lines, float64(fi.Size())/1e6)

	pipeline := fmt.Sprintf(`awk '%s' %s | grep -v "@earth" | grep -v "@venus" > %s/awk.out`, awkJoin, dump, dir)
	ours := fmt.Sprintf(`exec %s aliasfmt --mail-server earth --mail-server venus < %s > %s/peoplesync.out`, bin, dump, dir)

	a, o, rss, err := benchutil.SideBySide(pipeline, ours, runs)
	if err != nil {
		return err
	}
	fmt.Printf("%-58s %10s\n", "command", "median")
	fmt.Printf("%-58s %10s\n", "awk join | grep -v @earth | grep -v @venus", a.Round(time.Millisecond))
	fmt.Printf("%-58s %10s\n", "peoplesync aliasfmt --mail-server earth --mail-server venus", o.Round(time.Millisecond))
	fmt.Printf("\nratio peoplesync/pipeline: %.2f (target <= 0.50)\n", o.Seconds()/a.Seconds())
	fmt.Printf("peoplesync peak RSS: %.1f MB (target < 64 MB)\n", float64(rss)/1024)
	ol, _ := countLines(filepath.Join(dir, "peoplesync.out"))
	al, _ := countLines(filepath.Join(dir, "awk.out"))
	fmt.Printf("output lines: peoplesync %d, pipeline %d (the pipeline drops every list with a user@server member; peoplesync keeps them with members made local)\n", ol, al)
	return nil
}

// countLines counts lines without holding the file: the harness stays
// small, so the child's peak RSS is not inflated by it.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
