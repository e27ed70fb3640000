// Command sync benchmarks peoplesync's sync against `rsync -a -e ssh` on the
// same data and the same real OpenSSH sshd on loopback: 5,000 files of
// 20 KiB, a 200,000-line aliases and a 50,000-line passwd, each run to a
// never-used target directory (on tmpfs when /dev/shm exists). Cases:
// initial sync, no-change sync, 50 files changed, and peoplesync to 4
// servers at once against 1. Times are medians; peoplesync runs in a child
// process (this program re-executed) so its peak RSS can be measured.
//
//	go run ./internal/bench/sync [-reps 3] [-files 5000] [-changed 50] [-keep]
//
// The machine running the benchmark is also the servers', so with 4 servers
// the client and four sshd sessions share its cores. Environment:
// BENCH_CPU=1 prints each run's CPU time (the child's and the whole
// machine's), BENCH_CPUPROFILE=FILE writes a CPU profile of each peoplesync
// run to FILE.PID, BENCH_CONCURRENCY=N sets the files in flight per host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/peoplesync/peoplesync/internal/bench/benchutil"
	"github.com/peoplesync/peoplesync/internal/testpeer"
	fssync "github.com/peoplesync/peoplesync/sync"
)

// childSpec is what the parent passes to a child run.
type childSpec struct {
	Src   string
	Hosts []fssync.Host
	SSH   fssync.SSHOptions
}

// childResult is what a child run prints.
type childResult struct {
	Sent    int
	Bytes   int64
	Seconds float64
	Err     string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-child" {
		os.Exit(child(os.Args[2]))
	}
	reps := flag.Int("reps", 3, "repetitions per case (the median is shown)")
	files := flag.Int("files", 5000, "number of 20 KiB files")
	changed := flag.Int("changed", 50, "files changed for the third case")
	keep := flag.Bool("keep", false, "keep the scratch directory")
	flag.Parse()
	if err := run(*reps, *files, *changed, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// child runs one sync as described by the JSON spec and prints the result.
func child(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", p, os.Getpid()))
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	opts := fssync.Options{SSH: spec.SSH, Parallel: 4, Attempts: 1}
	if v := os.Getenv("BENCH_CONCURRENCY"); v != "" {
		fmt.Sscan(v, &opts.Concurrency)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	rep, err := fssync.Run(context.Background(), spec.Src, spec.Hosts, opts, log)
	res := childResult{Seconds: time.Since(start).Seconds()}
	if rep != nil {
		for _, h := range rep.Hosts {
			res.Sent += h.FilesSent()
			res.Bytes += h.BytesSent
		}
	}
	if err != nil {
		res.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0 // deferred: the profile is written
}

// bench holds the set-up shared by the cases.
type bench struct {
	base, src string
	sshd      *testpeer.SSHD
	self      string
	n         int // target directories made so far
}

func run(reps, files, changed int, keep bool) error {
	if _, err := exec.LookPath("rsync"); err != nil {
		return fmt.Errorf("rsync is needed for the comparison: %w", err)
	}
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	base, err := os.MkdirTemp(parent, "peoplesync-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(base)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &bench{base: base, src: filepath.Join(base, "src"), self: self}
	fmt.Printf("scratch directory %s (tmpfs: %v)\n", base, parent != "")

	start := time.Now()
	bytes, err := generate(b.src, files)
	if err != nil {
		return err
	}
	fmt.Printf("data set: %d files of 20 KiB + aliases (200,000 lines) + passwd (50,000 lines) = %.1f MB, made in %v\n",
		files, float64(bytes)/1e6, time.Since(start).Round(time.Millisecond))

	sshdDir := filepath.Join(base, "sshd")
	if err := os.Mkdir(sshdDir, 0o700); err != nil {
		return err
	}
	b.sshd, err = testpeer.StartSSHD(testpeer.SSHDConfig{Dir: sshdDir, Ports: 4})
	if err != nil {
		return err
	}
	defer b.sshd.Close()
	fmt.Printf("sshd on %s\n\n", strings.Join(b.sshd.Addrs, ", "))

	type sample struct{ rsync, ps time.Duration }
	var initial, nochange, fifty []sample
	var one, four []time.Duration
	var peakRSS int64
	for rep := range reps {
		rt, pt := b.target(), b.target()
		var s sample
		if s.rsync, err = b.rsync(rt); err != nil {
			return err
		}
		var rss int64
		if s.ps, rss, err = b.peoplesync(1, pt); err != nil {
			return err
		}
		peakRSS = max(peakRSS, rss)
		initial = append(initial, s)

		if s.rsync, err = b.rsync(rt); err != nil {
			return err
		}
		if s.ps, rss, err = b.peoplesync(1, pt); err != nil {
			return err
		}
		peakRSS = max(peakRSS, rss)
		nochange = append(nochange, s)

		if err := touch(b.src, files, changed, rep); err != nil {
			return err
		}
		if s.rsync, err = b.rsync(rt); err != nil {
			return err
		}
		if s.ps, rss, err = b.peoplesync(1, pt); err != nil {
			return err
		}
		peakRSS = max(peakRSS, rss)
		fifty = append(fifty, s)
		if err := verify(b.src, rt, pt); err != nil {
			return err
		}
		os.RemoveAll(rt)
		os.RemoveAll(pt)

		t1 := b.target()
		d1, rss1, err := b.peoplesync(1, t1)
		if err != nil {
			return err
		}
		t4 := []string{b.target(), b.target(), b.target(), b.target()}
		d4, rss4, err := b.peoplesync(4, t4...)
		if err != nil {
			return err
		}
		peakRSS = max(peakRSS, rss1, rss4)
		one, four = append(one, d1), append(four, d4)
		if err := verify(b.src, t4...); err != nil {
			return err
		}
		for _, t := range append(t4, t1) {
			os.RemoveAll(t)
		}
		fmt.Printf("repetition %d of %d: initial %v/%v, no change %v/%v, %d changed %v/%v, 1 vs 4 servers %v/%v (rsync/peoplesync)\n",
			rep+1, reps, secs(initial[rep].rsync), secs(initial[rep].ps), secs(nochange[rep].rsync), secs(nochange[rep].ps),
			changed, secs(fifty[rep].rsync), secs(fifty[rep].ps), secs(d1), secs(d4))
	}

	med := func(xs []sample, f func(sample) time.Duration) time.Duration {
		var ds []time.Duration
		for _, x := range xs {
			ds = append(ds, f(x))
		}
		return benchutil.Median(ds)
	}
	rs := func(s sample) time.Duration { return s.rsync }
	ps := func(s sample) time.Duration { return s.ps }
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "case\trsync -a -e ssh\tpeoplesync\tratio\ttarget\t\n")
	for _, c := range []struct {
		name string
		xs   []sample
	}{{"initial sync", initial}, {"no change", nochange}, {fmt.Sprintf("%d files changed", changed), fifty}} {
		r, p := med(c.xs, rs), med(c.xs, ps)
		fmt.Fprintf(w, "%s\t%s\t%s\t%.2f\t<= 1.00\t\n", c.name, secs(r), secs(p), p.Seconds()/r.Seconds())
	}
	m1, m4 := benchutil.Median(one), benchutil.Median(four)
	fmt.Fprintf(w, "peoplesync, 1 server\t\t%s\t\t\t\n", secs(m1))
	fmt.Fprintf(w, "peoplesync, 4 servers at once\t\t%s\t%.2f\t<= 1.50\t\n", secs(m4), m4.Seconds()/m1.Seconds())
	w.Flush()
	fmt.Printf("\npeoplesync peak RSS (largest of all runs): %.1f MB (target < 100 MB)\n", float64(peakRSS)/1e6)
	fmt.Printf("medians of %d runs; %d files of 20 KiB; targets never used before\n", reps, files)
	return nil
}

// machineCPU is the CPU time (user, nice, system, irq, softirq) all CPUs
// spent since boot, from /proc/stat; 0 when unavailable.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		var n int64
		fmt.Sscan(v, &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// target returns a fresh target directory path (not created).
func (b *bench) target() string {
	b.n++
	return filepath.Join(b.base, "targets", fmt.Sprintf("t%03d", b.n))
}

// rsync runs rsync -a -e ssh from the source to target on the first port.
func (b *bench) rsync(target string) (time.Duration, error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, err
	}
	port := b.sshd.Addrs[0][strings.LastIndexByte(b.sshd.Addrs[0], ':')+1:]
	e := fmt.Sprintf("ssh -F /dev/null -p %s -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
		port, b.sshd.IdentityFile, b.sshd.KnownHosts)
	cmd := exec.Command("rsync", "-a", "-e", e, b.src+"/", b.sshd.User+"@127.0.0.1:"+target+"/")
	cpu0 := machineCPU()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("rsync: %v: %s", err, out)
	}
	if os.Getenv("BENCH_CPU") != "" {
		fmt.Printf("  rsync: %v wall, child cpu %v, machine cpu %v\n", d.Round(time.Millisecond),
			(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond), (machineCPU() - cpu0).Round(time.Millisecond))
	}
	return d, nil
}

// peoplesync syncs the source to the targets, one per sshd port, in a child
// process; it returns the child's wall time and peak RSS in bytes.
func (b *bench) peoplesync(n int, targets ...string) (time.Duration, int64, error) {
	spec := childSpec{
		Src: b.src,
		SSH: fssync.SSHOptions{User: b.sshd.User, IdentityFile: b.sshd.IdentityFile, KnownHosts: b.sshd.KnownHosts},
	}
	for i, t := range targets[:n] {
		spec.Hosts = append(spec.Hosts, fssync.Host{Name: fmt.Sprintf("mx%d", i+1), Address: b.sshd.Addrs[i], Path: t})
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(b.self, "-child", string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cpu0 := machineCPU()
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("peoplesync: %v: %s%s", err, out, stderr.String())
	}
	if os.Getenv("BENCH_CPU") != "" {
		fmt.Printf("  peoplesync %d server(s): %v wall, child cpu %v, machine cpu %v\n", n, d.Round(time.Millisecond),
			(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond), (machineCPU() - cpu0).Round(time.Millisecond))
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, 0, fmt.Errorf("peoplesync output %q: %w", out, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, errors.New("no rusage")
	}
	return d, ru.Maxrss * 1024, nil // Linux: KiB
}

// generate writes the data set and returns its size.
func generate(dir string, files int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	r := rand.NewChaCha8([32]byte{1})
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var total int64
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		total += int64(len(data))
		return os.Chtimes(p, mtime, mtime)
	}
	buf := make([]byte, 20*1024)
	for i := range files {
		r.Read(buf)
		if err := write(fmt.Sprintf("user%04d.tiff", i), buf); err != nil {
			return 0, err
		}
	}
	var aliases, passwd strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&aliases, "user%06d: user%06d@mail%d.example.com\n", i, i, i%4)
	}
	for i := range 50_000 {
		fmt.Fprintf(&passwd, "user%05d:*:%d:20:User Number %d:/Users/user%05d:/bin/sh\n", i, 1000+i, i, i)
	}
	if err := write("aliases", []byte(aliases.String())); err != nil {
		return 0, err
	}
	if err := write("passwd", []byte(passwd.String())); err != nil {
		return 0, err
	}
	return total, nil
}

// touch rewrites n of the files with new content and a new mtime.
func touch(dir string, files, n, round int) error {
	r := rand.New(rand.NewPCG(uint64(round), 2))
	buf := make([]byte, 20*1024)
	mtime := time.Date(2024, 2, 1, 0, 0, round, 0, time.UTC)
	for _, i := range r.Perm(files)[:n] {
		rand.NewChaCha8([32]byte{byte(round + 2), byte(i), byte(i >> 8)}).Read(buf)
		p := filepath.Join(dir, fmt.Sprintf("user%04d.tiff", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			return err
		}
	}
	return nil
}

// verify checks every target has the source's files with the same sizes
// and mtimes.
func verify(src string, targets ...string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, e := range entries {
			a, err := e.Info()
			if err != nil {
				return err
			}
			b, err := os.Stat(filepath.Join(t, e.Name()))
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if a.Size() != b.Size() || a.ModTime().Unix() != b.ModTime().Unix() {
				return fmt.Errorf("verify: %s differs in %s", e.Name(), t)
			}
		}
	}
	return nil
}
