package sync

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"time"
)

// Defaults used when the Options field is zero.
const (
	DefaultParallel    = 4
	DefaultMaxDelete   = 10
	DefaultAttempts    = 3
	DefaultRetryDelay  = time.Second
	DefaultConcurrency = 64
)

// Host is one server the tree is pushed to.
type Host struct {
	// Name identifies the host in reports, logs and errors.
	Name string
	// Address is host or host:port (port 22 by default); empty means Name.
	// known_hosts must list the key under this host and port.
	Address string
	// User overrides SSHOptions.User.
	User string
	// Path is the directory on the host the tree is installed in (created
	// when missing). Required.
	Path string
	// IdentityFile overrides SSHOptions.IdentityFile.
	IdentityFile string
}

// address is the host:port to dial.
func (h Host) address() string {
	a := firstNonEmpty(h.Address, h.Name)
	if _, _, err := net.SplitHostPort(a); err != nil {
		return net.JoinHostPort(a, "22")
	}
	return a
}

func (h Host) label() string { return firstNonEmpty(h.Name, h.Address) }

// CompareMode says how a file is found out of date.
type CompareMode string

// Compare modes.
const (
	// CompareMtime (the default): a file is sent when its size, mtime (whole
	// seconds) or permission bits differ.
	CompareMtime CompareMode = "mtime"
	// CompareContent: a file is sent when its size, permission bits or bytes
	// differ (rdist -b); mtimes are ignored. Every file of equal size is read
	// back from the server.
	CompareContent CompareMode = "content"
)

// Special is a command run on a host after files matching Match changed
// there (rdist's special/cmdspecial).
type Special struct {
	// Match is a glob (path.Match) on the relative path: without a "/" it
	// matches the last element anywhere ("aliases", "*.db"), with one the
	// whole path ("maps/*.txt").
	Match string
	// Command is run once per host by the user's shell on the host (which
	// must be POSIX-compatible), in the target directory, with FILES set to
	// the matching installed or deleted paths, colon-separated. A command
	// that neither ends nor writes output for SSHOptions.IOTimeout fails.
	Command string
}

// Options control Run and Check. The zero value of every field is a usable
// default, except SSH.KnownHosts and a user, which must be set.
type Options struct {
	// SSH holds the connection settings.
	SSH SSHOptions
	// Parallel is how many hosts are updated at once (default
	// DefaultParallel; rdist -M).
	Parallel int
	// Compare is how out-of-date files are found (default CompareMtime).
	Compare CompareMode
	// Delete removes files and directories on a host that the source does
	// not have (never excluded ones). Deletions happen only after every
	// file for that host was installed.
	Delete bool
	// MaxDelete: when a host would need more deletions than this, none are
	// done and the host fails (default DefaultMaxDelete; negative: no
	// limit).
	MaxDelete int
	// Exclude lists globs (same rules as Special.Match) of paths neither
	// sent nor deleted; an excluded directory excludes its whole subtree.
	Exclude []string
	// BWLimit caps the bytes per second sent to each host (0: no limit).
	BWLimit int64
	// Specials are run on a host after matching files changed there.
	Specials []Special
	// DryRun connects and compares but changes nothing: the changes and
	// specials that would happen are reported (and itemized) only. (With
	// specials configured, `true` is run on each host to check it can run
	// commands at all.)
	DryRun bool
	// Itemize, when set, receives one line per change and special, like
	// rsync -i, each host's lines together when the host is done:
	//
	//	venus: >f+++++++++ aliases
	//	venus: >f.st...... passwd
	//	venus: cd+++++++++ maps/
	//	venus: *deleting   old.txt
	//	venus: !special    newaliases FILES=aliases
	Itemize io.Writer
	// Progress, when set, is called as hosts progress (see Progress). Calls
	// are serialized; it must return quickly.
	Progress func(Progress)
	// Attempts is how many times a host is tried when it fails with a
	// transient error (default DefaultAttempts; 1: no retry).
	Attempts int
	// RetryDelay is the wait before the second attempt; it doubles for each
	// further one (default DefaultRetryDelay).
	RetryDelay time.Duration
	// Concurrency is how many files are in flight to one host at once over
	// its single SFTP session (default DefaultConcurrency).
	Concurrency int
	// PendingDir, when set, is a directory where the specials a host is
	// owed are recorded, one file a host, before the files they follow are
	// installed there, and cleared once they ran. A run that stops in
	// between (killed, the connection lost for good, a special failing)
	// leaves them owed, and the next run runs them even if it has nothing
	// to send. A dry run reads the record but never writes it.
	PendingDir string
}

// Validate checks the options that do not depend on the hosts.
func (o *Options) Validate() error {
	switch o.Compare {
	case "", CompareMtime, CompareContent:
	default:
		return fmt.Errorf("compare %q: must be %q or %q", o.Compare, CompareMtime, CompareContent)
	}
	for _, p := range o.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("exclude %q: %w", p, err)
		}
	}
	for _, s := range o.Specials {
		if _, err := path.Match(s.Match, ""); err != nil || s.Match == "" {
			return fmt.Errorf("special match %q: %w", s.Match, errors.Join(err, errors.New("must be a non-empty glob")))
		}
		if s.Command == "" {
			return fmt.Errorf("special %q: empty command", s.Match)
		}
	}
	if o.Parallel < 0 || o.Attempts < 0 || o.Concurrency < 0 || o.BWLimit < 0 || o.RetryDelay < 0 {
		return errors.New("parallel, attempts, concurrency, bwlimit and retry delay must not be negative")
	}
	if o.SSH.ConnectTimeout < 0 || o.SSH.IOTimeout < 0 {
		return errors.New("timeouts must not be negative")
	}
	return nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Phase is the stage a host is in, reported through Options.Progress.
type Phase string

// Phases, in order. PhaseDone is reported once per host, last.
const (
	PhaseConnect Phase = "connect"
	PhaseList    Phase = "list"
	PhaseSend    Phase = "send"
	PhaseDelete  Phase = "delete"
	PhaseSpecial Phase = "special"
	PhaseDone    Phase = "done"
)

// Progress is a host's progress. Files and bytes count what was sent in
// the current attempt, against what it planned to send.
type Progress struct {
	Host       string
	Phase      Phase
	Attempt    int
	FilesDone  int
	FilesTotal int
	BytesDone  int64
	BytesTotal int64
	// Err is the host's error, with PhaseDone.
	Err error
}

// Report is the outcome of Run.
type Report struct {
	// Hosts has one entry per host, in the order given.
	Hosts []HostReport
	// Skipped lists local paths not sent: symbolic links (never followed)
	// and other non-regular files.
	Skipped []string
	// Duration is the whole run's.
	Duration time.Duration
}

// HostReport is the outcome for one host. Counts are of changes made (or,
// with DryRun, that would be made).
type HostReport struct {
	Host string
	// Created and Updated count files installed; BytesSent their bytes.
	Created, Updated int
	BytesSent        int64
	DirsCreated      int
	// Deleted counts files and directories removed.
	Deleted int
	// TempRemoved counts leftover temporary files of earlier runs removed.
	TempRemoved int
	// Changes lists every change made, in order of kind and path.
	Changes []Change
	// Specials lists the specials run (or that would run).
	Specials []SpecialResult
	// Vanished lists files that disappeared locally before they could be
	// sent; deletions are skipped on that run.
	Vanished []string
	// Attempts is how many times the host was tried.
	Attempts int
	Duration time.Duration
	// Err is why the host failed; nil when it succeeded.
	Err error
}

// FilesSent is Created + Updated.
func (h *HostReport) FilesSent() int { return h.Created + h.Updated }

// SpecialResult is a special run on a host.
type SpecialResult struct {
	Special
	// Files are the matching paths, as in FILES.
	Files []string
	// ExitStatus and Output are the command's; Err is set when it could not
	// run or exited non-zero.
	ExitStatus int
	Output     string
	Err        error
	// DryRun: the special was not run, only planned.
	DryRun bool
}

// ChangeKind is the kind of a Change.
type ChangeKind int

// Change kinds.
const (
	ChangeMkdir ChangeKind = iota
	ChangeCreate
	ChangeUpdate
	ChangeDelete
)

// Change is one change to a host's tree.
type Change struct {
	Kind ChangeKind
	Path string
	// Dir is set for directories.
	Dir bool
	// Why a file is updated: size, mtime, permission bits, content.
	Size, Time, Perms, Content bool
}

// String formats c like rsync --itemize-changes.
func (c Change) String() string {
	name := c.Path
	if c.Dir {
		name += "/"
	}
	switch c.Kind {
	case ChangeMkdir:
		return "cd+++++++++ " + name
	case ChangeCreate:
		return ">f+++++++++ " + name
	case ChangeDelete:
		return "*deleting   " + name
	}
	flag := func(b bool, c byte) byte {
		if b {
			return c
		}
		return '.'
	}
	f := []byte(">f" + "........." + " ")
	f[2] = flag(c.Content, 'c')
	f[3] = flag(c.Size, 's')
	f[4] = flag(c.Time, 't')
	f[5] = flag(c.Perms, 'p')
	return string(f) + name
}
