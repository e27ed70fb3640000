package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
	"github.com/peoplesync/peoplesync/nidump"
	fssync "github.com/peoplesync/peoplesync/sync"
)

// syncHosts and syncOptions map the config to the sync package.
func syncHosts(c *config.Config) []fssync.Host {
	hosts := make([]fssync.Host, len(c.Servers))
	for i, s := range c.Servers {
		hosts[i] = fssync.Host{Name: s.Name, Address: s.Address, User: s.User, Path: s.Path, IdentityFile: s.IdentityFile}
	}
	return hosts
}

func syncOptions(c *config.Config) fssync.Options {
	specials := make([]fssync.Special, len(c.Sync.Specials))
	for i, s := range c.Sync.Specials {
		specials[i] = fssync.Special{Match: s.Match, Command: s.Command}
	}
	return fssync.Options{
		SSH: fssync.SSHOptions{
			User: c.SSH.User, IdentityFile: c.SSH.IdentityFile, KnownHosts: c.SSH.KnownHosts,
			ConnectTimeout: c.SSH.ConnectTimeout, IOTimeout: c.SSH.IOTimeout,
			AgentSocket: os.Getenv("SSH_AUTH_SOCK"),
		},
		Parallel:  c.Sync.Parallel,
		Compare:   fssync.CompareMode(c.Sync.Compare),
		Delete:    c.Sync.Delete,
		MaxDelete: c.Sync.MaxDelete,
		Exclude:   c.Sync.Exclude,
		BWLimit:   c.Sync.BWLimit,
		Specials:  specials,
		// Specials owed to a server survive a run that stopped before
		// running them.
		PendingDir: filepath.Join(c.StateDir, "pending-specials"),
	}
}

// SyncSummary is what a sync run records in the state directory.
type SyncSummary struct {
	DryRun bool             `json:"dry_run,omitempty"`
	Hosts  []SyncHostResult `json:"servers"`
}

// SyncHostResult is one server's part of a SyncSummary.
type SyncHostResult struct {
	Server   string        `json:"server"`
	Sent     int           `json:"files_sent"`
	Bytes    int64         `json:"bytes_sent"`
	Deleted  int           `json:"deleted"`
	Specials int           `json:"specials_run"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

// syncRun is the sync job: push the People directory to every server.
func syncRun(c *config.Config, env jobEnv) jobs.RunFunc {
	return func(ctx context.Context, log *slog.Logger) (any, error) {
		if len(c.Servers) == 0 {
			log.Info("no [[server]] configured: nothing to sync")
			return nil, nil
		}
		opts := syncOptions(c)
		opts.DryRun = env.dryRun
		if env.dryRun && env.report != nil {
			opts.Itemize = env.report
		}
		var prog *progressLine
		if f, ok := env.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !env.dryRun {
			prog = newProgressLine(f)
			opts.Progress = prog.update
		}
		log.Info("sync starting", "dir", c.People.Dir, "servers", len(c.Servers), "dry_run", env.dryRun)
		rep, err := fssync.Run(ctx, c.People.Dir, syncHosts(c), opts, log)
		if prog != nil {
			prog.finish()
		}
		sum := &SyncSummary{DryRun: env.dryRun}
		if rep != nil {
			for _, h := range rep.Hosts {
				r := SyncHostResult{Server: h.Host, Sent: h.FilesSent(), Bytes: h.BytesSent, Deleted: h.Deleted, Specials: len(h.Specials), Duration: h.Duration}
				if h.Err != nil {
					r.Error = h.Err.Error()
				}
				sum.Hosts = append(sum.Hosts, r)
				if env.metric != nil && !env.dryRun {
					env.metric.AddSent(h.Host, h.FilesSent(), h.BytesSent)
				}
			}
			if env.report != nil {
				printSyncReport(env.report, rep, env.dryRun)
			}
		}
		return sum, err
	}
}

func printSyncReport(w io.Writer, rep *fssync.Report, dryRun bool) {
	verb := "sent"
	if dryRun {
		verb = "would send"
	}
	for _, h := range rep.Hosts {
		status := "ok"
		if h.Err != nil {
			status = "FAILED: " + h.Err.Error()
		}
		fmt.Fprintf(w, "%-12s %s %d file(s), %s; %d deleted; %d special(s); %s  %s\n",
			h.Host, verb, h.FilesSent(), byteCount(h.BytesSent), h.Deleted, len(h.Specials), h.Duration.Round(time.Millisecond), status)
		for _, s := range h.Specials {
			out := strings.TrimSpace(s.Output)
			if out != "" {
				out = ": " + out
			}
			fmt.Fprintf(w, "%-12s   special %q FILES=%s exit %d%s\n", "", s.Command, strings.Join(s.Files, ":"), s.ExitStatus, out)
		}
	}
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progressLine shows each server's progress on one terminal line.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	hosts []string
	state map[string]fssync.Progress
	last  time.Time
}

func newProgressLine(w io.Writer) *progressLine {
	return &progressLine{w: w, state: map[string]fssync.Progress{}}
}

func (p *progressLine) update(pr fssync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.state[pr.Host]; !ok {
		p.hosts = append(p.hosts, pr.Host)
	}
	p.state[pr.Host] = pr
	if time.Since(p.last) < 100*time.Millisecond && pr.Phase != fssync.PhaseDone {
		return
	}
	p.last = time.Now()
	parts := make([]string, 0, len(p.hosts))
	for _, h := range p.hosts {
		s := p.state[h]
		parts = append(parts, fmt.Sprintf("%s %s %d/%d files %s/%s", h, s.Phase, s.FilesDone, s.FilesTotal, byteCount(s.BytesDone), byteCount(s.BytesTotal)))
	}
	fmt.Fprintf(p.w, "\r\033[K%s", strings.Join(parts, " | "))
}

func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.hosts) > 0 {
		fmt.Fprintln(p.w)
	}
}

// retryable says whether a failed job attempt may be retried: not when
// retrying cannot help (a refused dump, a malformed line, a host key or
// authentication failure, a full disk).
func retryable(err error) bool {
	var pe *nidump.ParseError
	switch {
	case err == nil, jobs.IsRefused(err), errors.As(err, &pe), fssync.IsPermanent(err):
		return false
	}
	return true
}
