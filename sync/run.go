package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Run pushes the tree at src to every host, up to opts.Parallel hosts at
// once; hosts are independent, and one failing does not stop the others.
// The report has every host's outcome; the error is non-nil when any host
// failed (it joins the hosts' errors) or the options are invalid. A missing
// source directory, or an empty one while opts.Delete is set, fails every
// host before any connection is made.
func Run(ctx context.Context, src string, hosts []Host, opts Options, log *slog.Logger) (*Report, error) {
	start := time.Now()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Hosts: make([]HostReport, len(hosts))}
	for i, h := range hosts {
		rep.Hosts[i].Host = h.label()
	}
	failAll := func(err error) (*Report, error) {
		for i := range rep.Hosts {
			rep.Hosts[i].Err = err
		}
		rep.Duration = time.Since(start)
		return rep, err
	}
	if err := opts.Validate(); err != nil {
		return failAll(permanent(err))
	}
	if opts.Compare == "" {
		opts.Compare = CompareMtime
	}
	hk, err := loadHostKeys(opts.SSH.KnownHosts)
	if err != nil {
		return failAll(err)
	}
	source, err := scanSource(ctx, src, opts.Exclude, log)
	if err != nil {
		return failAll(err)
	}
	rep.Skipped = source.skipped
	if source.files == 0 && opts.Delete {
		return failAll(permanent(fmt.Errorf("source %s: %w while delete is on: refusing to touch the servers (not mounted?)", src, ErrSourceEmpty)))
	}

	if opts.PendingDir != "" {
		warnOrphanedOwed(opts.PendingDir, hosts, log)
	}
	r := &runner{opts: opts, src: source, hostKeys: hk, signers: &signerCache{}, log: log}
	var g errgroup.Group
	g.SetLimit(orDefault(opts.Parallel, DefaultParallel))
	for i, h := range hosts {
		g.Go(func() error {
			rep.Hosts[i] = r.syncHost(ctx, h)
			return nil
		})
	}
	g.Wait()
	rep.Duration = time.Since(start)
	var errs []error
	for _, h := range rep.Hosts {
		if h.Err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", h.Host, h.Err))
		}
	}
	return rep, errors.Join(errs...)
}

// runner holds what the hosts of one Run share.
type runner struct {
	opts     Options
	src      *source
	hostKeys *hostKeys
	signers  *signerCache
	log      *slog.Logger

	progressMu gosync.Mutex
	itemizeMu  gosync.Mutex
}

func (r *runner) progress(p Progress) {
	if r.opts.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.opts.Progress(p)
}

// hostRun is one host's state across attempts.
type hostRun struct {
	r       *runner
	host    Host
	log     *slog.Logger
	rep     HostReport
	changed map[string]bool // installed or deleted paths whose specials are pending
	failed  map[string]bool // paths whose special ran and failed: owed to the next run
	// recorded is what Options.PendingDir holds for the host.
	recorded []string
	attempt  int
}

// syncHost runs attempts until one succeeds, the error is permanent, or
// the attempts are used up.
func (r *runner) syncHost(ctx context.Context, h Host) HostReport {
	start := time.Now()
	hr := &hostRun{r: r, host: h, log: r.log.With("server", h.label()), changed: map[string]bool{}, failed: map[string]bool{}}
	hr.rep.Host = h.label()
	err := hr.loadOwed()
	if err == nil {
		err = hr.attempts(ctx)
	}
	if ctx.Err() != nil && err != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil && len(hr.changed) > 0 {
		if pending := hr.pendingSpecials(); len(pending) > 0 {
			next := ""
			if r.opts.PendingDir != "" {
				next = " (the next run runs them)"
			}
			err = fmt.Errorf("%w; specials NOT run although their files changed%s: %s", err, next, strings.Join(pending, "; "))
		}
	}
	if rerr := hr.recordOwed(nil); rerr != nil {
		err = errors.Join(err, rerr)
	}
	hr.rep.Err = err
	hr.rep.Duration = time.Since(start)
	r.itemize(&hr.rep)
	rep := hr.rep
	if err != nil {
		hr.log.Error("host failed", "attempts", rep.Attempts, "sent", rep.FilesSent(), "bytes", rep.BytesSent,
			"deleted", rep.Deleted, "specials", len(rep.Specials), "duration", rep.Duration, "err", err)
	} else {
		hr.log.Info("host done", "dry_run", r.opts.DryRun, "sent", rep.FilesSent(), "bytes", rep.BytesSent,
			"deleted", rep.Deleted, "specials", len(rep.Specials), "duration", rep.Duration)
	}
	r.progress(Progress{Host: rep.Host, Phase: PhaseDone, Attempt: rep.Attempts, FilesDone: rep.FilesSent(),
		FilesTotal: rep.FilesSent(), BytesDone: rep.BytesSent, BytesTotal: rep.BytesSent, Err: err})
	return rep
}

// attempts runs attempts until one succeeds, the error is permanent, or
// the attempts are used up.
func (hr *hostRun) attempts(ctx context.Context) error {
	attempts := orDefault(hr.r.opts.Attempts, DefaultAttempts)
	delay := orDefault(hr.r.opts.RetryDelay, DefaultRetryDelay)
	for hr.attempt = 1; ; hr.attempt++ {
		hr.rep.Attempts = hr.attempt
		err := hr.run(ctx)
		if err == nil || IsPermanent(err) || hr.attempt >= attempts || ctx.Err() != nil {
			return err
		}
		hr.log.Warn("host failed, retrying", "attempt", hr.attempt, "of", attempts, "in", delay, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// itemize writes the host's changes and specials to opts.Itemize.
func (r *runner) itemize(rep *HostReport) {
	if r.opts.Itemize == nil {
		return
	}
	var b strings.Builder
	for _, c := range rep.Changes {
		fmt.Fprintf(&b, "%s: %s\n", rep.Host, c)
	}
	for _, s := range rep.Specials {
		fmt.Fprintf(&b, "%s: !special    %s FILES=%s\n", rep.Host, s.Command, strings.Join(s.Files, ":"))
	}
	r.itemizeMu.Lock()
	defer r.itemizeMu.Unlock()
	io.WriteString(r.opts.Itemize, b.String())
}

// run is one attempt: connect, list, compare, then install, delete and run
// specials.
func (hr *hostRun) run(ctx context.Context) error {
	r, opts := hr.r, &hr.r.opts
	hr.phase(PhaseConnect, nil)
	st, err := dialTarget(ctx, hr.host, *opts, r.hostKeys, r.signers, hr.log)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(opts.Specials) > 0 {
		if _, err := st.Run(ctx, "true", nil); err != nil {
			if errors.Is(err, ErrNoExec) {
				return permanent(fmt.Errorf("%d special(s) configured, but this server cannot run them: %w", len(opts.Specials), err))
			}
			return err
		}
	}
	var t Target = st
	if opts.DryRun {
		t = dryRunTarget{st}
	}

	hr.phase(PhaseList, nil)
	remote, err := t.List(ctx)
	rootMissing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !rootMissing {
		return err
	}
	p, err := makePlan(ctx, r.src, remote, t, opts)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, p.conflicts...)
	tooMany := opts.Delete && opts.MaxDelete >= 0 && len(p.deletes) > orDefault(opts.MaxDelete, DefaultMaxDelete)
	if tooMany {
		errs = append(errs, permanent(fmt.Errorf("%w: %d deletions needed, max_delete is %d; none done (check the source directory, "+
			"then raise max_delete for one run if they are intended)", ErrTooManyDeletes, len(p.deletes), orDefault(opts.MaxDelete, DefaultMaxDelete))))
	}
	if opts.DryRun {
		hr.planned(p, rootMissing, tooMany)
		return errors.Join(errs...)
	}

	// The specials these changes call for are owed from now on: recorded
	// before the first change, so that a run stopped after it still runs
	// them next time.
	changes := p.sends
	if opts.Delete && !tooMany {
		changes = append(slices.Clip(changes), p.deletes...)
	}
	if err := hr.recordOwed(changes); err != nil {
		return err
	}
	if rootMissing {
		if err := t.Mkdir(ctx, ".", 0o755); err != nil {
			return err
		}
		hr.rep.DirsCreated++
		hr.rep.Changes = append(hr.rep.Changes, Change{Kind: ChangeMkdir, Path: ".", Dir: true})
	}
	for _, tmp := range p.stale {
		if err := t.Remove(ctx, tmp); err != nil {
			if isConnectionError(err) {
				return err
			}
			hr.log.Warn("cannot remove leftover temporary file", "file", tmp, "err", err)
			continue
		}
		hr.rep.TempRemoved++
	}
	for _, c := range p.mkdirs {
		if err := t.Mkdir(ctx, c.Path, hr.r.src.entries[c.Path].Mode); err != nil {
			return err
		}
		hr.rep.DirsCreated++
		hr.rep.Changes = append(hr.rep.Changes, c)
	}

	vanished, sendErr := hr.send(ctx, t, p)
	if sendErr != nil && isConnectionError(sendErr) {
		return sendErr
	}
	errs = append(errs, sendErr)
	if hr.attempt > 1 {
		// The failed attempt's server session may have gone on creating
		// temporary files after this attempt listed the tree.
		if err := hr.removeTemps(ctx, t); err != nil {
			return err
		}
	}

	switch {
	case !opts.Delete || len(p.deletes) == 0 || tooMany:
	case sendErr != nil || len(p.conflicts) > 0:
		hr.log.Warn("deletions skipped: not every file was installed", "deletions", len(p.deletes))
	case vanished > 0:
		hr.log.Warn("deletions skipped: local files vanished during the run; the next run deletes", "deletions", len(p.deletes))
	default:
		hr.phase(PhaseDelete, nil)
		for _, c := range p.deletes {
			if err := t.Remove(ctx, c.Path); err != nil {
				if isConnectionError(err) {
					return err
				}
				errs = append(errs, err)
				continue
			}
			hr.rep.Deleted++
			hr.rep.Changes = append(hr.rep.Changes, c)
			hr.changed[c.Path] = true
		}
	}

	if err := hr.runSpecials(ctx, t); err != nil {
		if isConnectionError(err) {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeTemps lists the tree again and removes temporary files.
func (hr *hostRun) removeTemps(ctx context.Context, t Target) error {
	entries, err := t.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsTemp() || e.IsDir() || excluded(hr.r.opts.Exclude, e.Path) {
			continue
		}
		if err := t.Remove(ctx, e.Path); err != nil {
			if isConnectionError(err) {
				return err
			}
			if !errors.Is(err, fs.ErrNotExist) {
				hr.log.Warn("cannot remove leftover temporary file", "file", e.Path, "err", err)
			}
			continue
		}
		hr.rep.TempRemoved++
	}
	return nil
}

func (hr *hostRun) phase(ph Phase, p *plan) {
	pr := Progress{Host: hr.rep.Host, Phase: ph, Attempt: hr.attempt}
	if p != nil {
		pr.FilesTotal, pr.BytesTotal = len(p.sends), p.sendBytes
	}
	hr.r.progress(pr)
}

// planned records a dry run's plan in the report.
func (hr *hostRun) planned(p *plan, rootMissing, tooMany bool) {
	rep := &hr.rep
	if rootMissing {
		rep.Changes = append(rep.Changes, Change{Kind: ChangeMkdir, Path: ".", Dir: true})
	}
	rep.Changes = append(rep.Changes, p.mkdirs...)
	rep.DirsCreated = len(rep.Changes)
	sends := append([]Change(nil), p.sends...)
	sortChanges(sends)
	for _, c := range sends {
		rep.Changes = append(rep.Changes, c)
		if c.Kind == ChangeCreate {
			rep.Created++
		} else {
			rep.Updated++
		}
		rep.BytesSent += hr.r.src.entries[c.Path].Size
		hr.changed[c.Path] = true
	}
	if hr.r.opts.Delete && !tooMany {
		rep.Changes = append(rep.Changes, p.deletes...)
		rep.Deleted = len(p.deletes)
		for _, c := range p.deletes {
			hr.changed[c.Path] = true
		}
	}
	rep.TempRemoved = len(p.stale)
	for _, s := range hr.r.opts.Specials {
		if files := hr.matching(s); len(files) > 0 {
			rep.Specials = append(rep.Specials, SpecialResult{Special: s, Files: files, DryRun: true})
		}
	}
	clear(hr.changed)
}

// send installs the planned files, opts.Concurrency at a time. It returns
// how many files vanished locally and the joined per-file errors. A
// connection-level error, a full disk or a read-only file system stops the
// remaining sends.
func (hr *hostRun) send(ctx context.Context, t Target, p *plan) (int, error) {
	if len(p.sends) == 0 {
		return 0, nil
	}
	opts := &hr.r.opts
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var limiter *rate.Limiter
	var burst int
	if opts.BWLimit > 0 {
		burst = int(min(opts.BWLimit, sftpMaxPacket))
		limiter = rate.NewLimiter(rate.Limit(opts.BWLimit), burst)
	}

	var (
		mu        gosync.Mutex
		errs      []error
		vanished  int
		filesDone int
		bytesDone int64
		lastEmit  int64
	)
	emit := func() {
		hr.r.progress(Progress{Host: hr.rep.Host, Phase: PhaseSend, Attempt: hr.attempt,
			FilesDone: filesDone, FilesTotal: len(p.sends), BytesDone: bytesDone, BytesTotal: p.sendBytes})
	}
	count := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		bytesDone += int64(n)
		if bytesDone-lastEmit >= 1<<20 {
			lastEmit = bytesDone
			emit()
		}
	}
	emit()

	jobs := make(chan Change)
	var wg gosync.WaitGroup
	for range min(orDefault(opts.Concurrency, DefaultConcurrency), len(p.sends)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				size, err := hr.sendOne(ctx, t, c, limiter, burst, count)
				mu.Lock()
				switch {
				case err == nil:
					filesDone++
					hr.rep.BytesSent += size
					if c.Kind == ChangeCreate {
						hr.rep.Created++
					} else {
						hr.rep.Updated++
					}
					hr.rep.Changes = append(hr.rep.Changes, c)
					hr.changed[c.Path] = true
					emit()
				case errors.Is(err, fs.ErrNotExist) && errors.Is(err, errLocal):
					vanished++
					hr.rep.Vanished = append(hr.rep.Vanished, c.Path)
					hr.log.Warn("local file vanished before it was sent", "file", c.Path)
				case context.Cause(ctx) != nil && ctx.Err() != nil:
					// Stopped because of an earlier error: not reported again.
				default:
					errs = append(errs, err)
					if isConnectionError(err) || errors.Is(err, ErrNoSpace) || errors.Is(err, ErrReadOnly) {
						cancel(err)
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, c := range p.sends {
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	sortChanges(hr.rep.Changes)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return vanished, summarize(errs, len(p.sends)-filesDone-vanished)
	}
	if err := ctx.Err(); err != nil {
		return vanished, err
	}
	return vanished, summarize(errs, 0)
}

// sortChanges orders changes by kind, then path, except deletions, whose
// order (files, then directories children first) is kept.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Kind != ChangeDelete && a.Path < b.Path
	})
}

// errLocal marks errors reading the source.
var errLocal = errors.New("local")

// sendOne installs one file, returning its size.
func (hr *hostRun) sendOne(ctx context.Context, t Target, c Change, lim *rate.Limiter, burst int, count func(int)) (int64, error) {
	f, meta, err := hr.r.src.open(c.Path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errLocal, err)
	}
	defer f.Close()
	var rd io.Reader = &countingReader{r: f, count: count}
	if lim != nil {
		rd = &limitedReader{ctx: ctx, r: rd, lim: lim, burst: burst}
	}
	if err := t.Install(ctx, c.Path, rd, meta); err != nil {
		return 0, err
	}
	return meta.Size, nil
}

// summarize joins the first few errors of a host.
func summarize(errs []error, notTried int) error {
	const show = 5
	if len(errs) == 0 {
		return nil
	}
	out := errs
	if len(errs) > show {
		out = append(errs[:show:show], fmt.Errorf("and %d more errors", len(errs)-show))
	}
	if notTried > 0 {
		out = append(out, fmt.Errorf("%d files not sent after that", notTried))
	}
	return errors.Join(out...)
}

type countingReader struct {
	r     io.Reader
	count func(int)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.count(n)
	}
	return n, err
}

// limitedReader waits for the rate limiter before handing data on.
type limitedReader struct {
	ctx   context.Context
	r     io.Reader
	lim   *rate.Limiter
	burst int
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if len(b) > l.burst {
		b = b[:l.burst]
	}
	n, err := l.r.Read(b)
	if n > 0 {
		if werr := l.lim.WaitN(l.ctx, n); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

// matching returns the changed paths special s matches, sorted.
func (hr *hostRun) matching(s Special) []string {
	var files []string
	for p := range hr.changed {
		if matchGlob(s.Match, p) {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	return files
}

func (hr *hostRun) pendingSpecials() []string {
	var out []string
	for _, s := range hr.r.opts.Specials {
		if files := hr.matching(s); len(files) > 0 {
			out = append(out, fmt.Sprintf("%q for %s", s.Command, strings.Join(files, ":")))
		}
	}
	return out
}

// runSpecials runs each special whose files changed, once, with FILES set.
func (hr *hostRun) runSpecials(ctx context.Context, t Target) error {
	var errs []error
	for _, s := range hr.r.opts.Specials {
		files := hr.matching(s)
		if len(files) == 0 {
			continue
		}
		hr.phase(PhaseSpecial, nil)
		res, err := t.Run(ctx, s.Command, map[string]string{"FILES": strings.Join(files, ":")})
		if err != nil && isConnectionError(err) {
			return err // retried with the same pending files
		}
		sr := SpecialResult{Special: s, Files: files, ExitStatus: res.ExitStatus, Output: string(res.Output), Err: err}
		if err == nil && res.ExitStatus != 0 {
			sr.Err = permanent(fmt.Errorf("%w: %q exited with status %d: %s", ErrSpecialFailed, s.Command, res.ExitStatus,
				strings.TrimSpace(string(res.Output))))
		}
		for _, f := range files {
			// Not run again in this run; a failed one is owed to the next.
			delete(hr.changed, f)
			if sr.Err != nil {
				hr.failed[f] = true
			} else {
				delete(hr.failed, f)
			}
		}
		hr.rep.Specials = append(hr.rep.Specials, sr)
		if sr.Err != nil {
			hr.log.Error("special failed", "command", s.Command, "files", sr.Files, "status", res.ExitStatus, "output", sr.Output, "err", sr.Err)
			errs = append(errs, sr.Err)
			continue
		}
		hr.log.Info("special ran", "command", s.Command, "files", sr.Files, "status", res.ExitStatus, "output", sr.Output)
	}
	return errors.Join(errs...)
}

// dryRunTarget refuses every change: a dry run must change nothing, even if
// a code path forgot to check.
type dryRunTarget struct{ Target }

var errDryRun = permanent(errors.New("dry run: refusing to change the target"))

func (dryRunTarget) Install(context.Context, string, io.Reader, FileMeta) error { return errDryRun }
func (dryRunTarget) Mkdir(context.Context, string, fs.FileMode) error           { return errDryRun }
func (dryRunTarget) Remove(context.Context, string) error                       { return errDryRun }
func (dryRunTarget) Run(context.Context, string, map[string]string) (RunResult, error) {
	return RunResult{}, errDryRun
}
