package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
)

// Check step names, in the order they are checked.
const (
	CheckConnect     = "connect"
	CheckHostKey     = "host key"
	CheckAuth        = "auth"
	CheckSFTP        = "sftp"
	CheckPosixRename = "posix-rename"
	CheckWritable    = "target writable"
	CheckExec        = "exec" // only when specials are configured
)

// CheckStep is one check on a host. Steps after a failed one are not
// listed.
type CheckStep struct {
	Name string
	// Err is nil when the step passed.
	Err error
	// Detail says more about a passed step (the host key fingerprint, say).
	Detail string
}

// CheckResult is the outcome of Check for one host.
type CheckResult struct {
	Host  string
	Steps []CheckStep
	// Err is the first failed step's error, nil when all passed.
	Err error
}

// Check connects to every host, up to opts.Parallel at once, and checks the
// host key, authentication, SFTP, the posix-rename extension, that the
// target directory is writable (by creating and removing a temporary file
// in it), and, when specials are configured, that commands can run. It
// changes nothing else. Results are in the order of hosts.
func Check(ctx context.Context, hosts []Host, opts Options) []CheckResult {
	res := make([]CheckResult, len(hosts))
	hk, err := loadHostKeys(opts.SSH.KnownHosts)
	if err != nil {
		for i, h := range hosts {
			res[i] = CheckResult{Host: h.label(), Steps: []CheckStep{{Name: CheckHostKey, Err: err}}, Err: err}
		}
		return res
	}
	signers := &signerCache{}
	var g errgroup.Group
	g.SetLimit(orDefault(opts.Parallel, DefaultParallel))
	for i, h := range hosts {
		g.Go(func() error {
			res[i] = checkHost(ctx, h, opts, hk, signers)
			return nil
		})
	}
	g.Wait()
	return res
}

func checkHost(ctx context.Context, h Host, opts Options, hk *hostKeys, signers *signerCache) CheckResult {
	r := CheckResult{Host: h.label()}
	pass := func(name, detail string) { r.Steps = append(r.Steps, CheckStep{Name: name, Detail: detail}) }
	fail := func(name string, err error) CheckResult {
		r.Steps = append(r.Steps, CheckStep{Name: name, Err: err})
		r.Err = fmt.Errorf("%s: %w", name, err)
		return r
	}
	log := slog.New(slog.DiscardHandler)
	t, err := dialTarget(ctx, h, opts, hk, signers, log)
	if err != nil {
		stage := stageConnect
		var de *dialError
		if errors.As(err, &de) {
			stage = de.stage
		}
		for _, s := range []dialStage{stageConnect, stageHostKey, stageAuth, stageSFTP, stagePosixRename} {
			if s == stage {
				return fail(string(s), err)
			}
			pass(string(s), "")
		}
		return fail(string(stage), err)
	}
	defer t.Close()
	pass(CheckConnect, t.conn.RemoteAddr().String())
	pass(CheckHostKey, t.conn.hostKey)
	pass(CheckAuth, t.conn.User())
	pass(CheckSFTP, "")
	pass(CheckPosixRename, "")

	fi, err := t.c.Stat(t.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pass(CheckWritable, fmt.Sprintf("%s does not exist yet; the first sync creates it", t.root))
	case err != nil:
		return fail(CheckWritable, t.wrap("stat", t.root, err))
	case !fi.IsDir():
		return fail(CheckWritable, fmt.Errorf("%s:%s is not a directory", t.host, t.root))
	default:
		name := tempName("check")
		if err := t.Install(ctx, name, bytes.NewReader(nil), FileMeta{Mode: 0o600, ModTime: time.Now()}); err != nil {
			return fail(CheckWritable, err)
		}
		if err := t.Remove(ctx, name); err != nil {
			return fail(CheckWritable, err)
		}
		pass(CheckWritable, t.root)
	}

	if len(opts.Specials) > 0 {
		if _, err := t.Run(ctx, "true", nil); err != nil {
			return fail(CheckExec, err)
		}
		pass(CheckExec, "")
	}
	return r
}
