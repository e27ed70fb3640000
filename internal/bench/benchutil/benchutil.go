// Package benchutil holds what the side-by-side benchmark programs share:
// timing a shell command with its peak RSS, and medians.
package benchutil

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// TimeShell runs script with /bin/sh and returns its wall time and the
// peak RSS (KiB) of the biggest process sh waited for. Linux counts the
// harness's own RSS at the fork in that figure, so it is an upper bound:
// keep the harness small (stream files, never hold them).
func TimeShell(script string) (time.Duration, int64, error) {
	cmd := exec.Command("/bin/sh", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

// Median returns the median of ds (the upper one of an even count).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// SideBySide runs theirs and ours (shell scripts) once each untimed, to
// warm caches, then alternately runs times times, and returns both
// medians and ours' largest peak RSS (KiB).
func SideBySide(theirs, ours string, runs int) (tTheirs, tOurs time.Duration, rss int64, err error) {
	for _, warm := range []string{theirs, ours} {
		if _, _, err := TimeShell(warm); err != nil {
			return 0, 0, 0, err
		}
	}
	var a, b []time.Duration
	for range runs {
		d, _, err := TimeShell(theirs)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", theirs, err)
		}
		a = append(a, d)
		d, r, err := TimeShell(ours)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("peoplesync: %w", err)
		}
		b = append(b, d)
		rss = max(rss, r)
	}
	return Median(a), Median(b), rss, nil
}
