// Package jobs holds peoplesync's jobs (maildb, the mailDBupdate
// equivalent; sync; commands) and the scheduler that runs them.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/people"
	"github.com/peoplesync/peoplesync/source"
	"golang.org/x/sync/errgroup"
)

// MailDB is the mailDBupdate-equivalent job: it dumps passwd and aliases
// from the domain, joins and strips the aliases, and installs both in the
// People directory, with the pictures.
type MailDB struct {
	Source source.Source
	// Dir is the People directory.
	Dir string
	// Strip says which mail-server aliases are stripped.
	Strip aliasfmt.Options
	// RedactPasswords writes "*" for every password field.
	RedactPasswords bool
	// MaxShrink refuses a dump with fewer than (1-MaxShrink) times the
	// installed file's entries.
	MaxShrink float64
	// Pictures is the master pictures directory ("" for none).
	Pictures      string
	PrunePictures bool
	// Force overrides the safety checks (empty or shrunken dump, pruning
	// every picture) for this run.
	Force bool
}

// FileSummary says what happened to one file of the People directory.
type FileSummary struct {
	Path      string `json:"path"`
	Entries   int    `json:"entries"`
	Installed int    `json:"previous_entries"` // -1: there was none
	Changed   bool   `json:"changed"`
}

// MailDBSummary says what a maildb run did.
type MailDBSummary struct {
	Passwd    FileSummary `json:"passwd"`
	Aliases   FileSummary `json:"aliases"`
	Stripped  int         `json:"aliases_stripped"`
	Rewritten int         `json:"aliases_rewritten"`
	// StrippedNames lists the first stripped entries (at most
	// maxStrippedNames), to show what was stripped.
	StrippedNames   []string             `json:"stripped_names,omitempty"`
	PicturesCopied  int                  `json:"pictures_copied"`
	PicturesRemoved int                  `json:"pictures_removed"`
	Pictures        people.PictureResult `json:"-"`
	Duration        time.Duration        `json:"duration_ns"`
}

const maxStrippedNames = 100

// RefusedError is a dump refused by a safety check: nothing was installed.
type RefusedError struct {
	File   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to install %s: %s; the installed files are unchanged (run again with --force to install it anyway)", e.File, e.Reason)
}

// Run runs the job once.
func (j *MailDB) Run(ctx context.Context, log *slog.Logger) (*MailDBSummary, error) {
	start := time.Now()
	sum := &MailDBSummary{}
	dir, err := people.Open(j.Dir)
	if err != nil {
		return sum, err
	}
	defer dir.Close()
	if removed, err := dir.RemoveStaleTemp(); err != nil {
		return sum, err
	} else if len(removed) > 0 {
		log.Info("removed temp files left by an interrupted run", "files", removed)
	}

	pw, err := dir.Stage("passwd")
	if err != nil {
		return sum, err
	}
	defer pw.Discard()
	al, err := dir.Stage("aliases")
	if err != nil {
		return sum, err
	}
	defer al.Discard()
	// Both dumps at once (two nidump commands, two LDAP searches). The
	// first to fail stops the other, and its error is the one reported.
	var st aliasfmt.Stats
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if _, err := WritePasswd(gctx, j.Source, pw, j.RedactPasswords); err != nil {
			return fmt.Errorf("dump passwd: %w (nothing was installed)", err)
		}
		return nil
	})
	g.Go(func() error {
		var err error
		st, err = WriteAliases(gctx, j.Source, al, j.Strip, func(a nidump.Alias) {
			if len(sum.StrippedNames) < maxStrippedNames {
				sum.StrippedNames = append(sum.StrippedNames, a.String())
			}
			log.Debug("stripped mail-server alias", "alias", a.Name, "line", a.Line)
		})
		if err != nil {
			return fmt.Errorf("dump aliases: %w (nothing was installed)", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return sum, err
	}
	sum.Stripped, sum.Rewritten = st.Stripped, st.Rewritten

	for _, s := range []*people.Staged{pw, al} {
		if err := s.Finish(); err != nil {
			return sum, err
		}
	}
	sum.Passwd = fileSummary(dir, pw)
	sum.Aliases = fileSummary(dir, al)
	if !j.Force {
		for _, s := range []*people.Staged{pw, al} {
			if err := j.check(dir, s); err != nil {
				return sum, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("maildb: %w (nothing was installed)", err)
	}
	for _, s := range []*people.Staged{pw, al} {
		if err := s.Commit(); err != nil {
			return sum, err
		}
	}

	if j.Pictures != "" {
		res, err := dir.MirrorPictures(j.Pictures, people.PictureOptions{Prune: j.PrunePictures, Force: j.Force}, log)
		sum.Pictures = res
		sum.PicturesCopied, sum.PicturesRemoved = len(res.Copied), len(res.Removed)
		if err != nil {
			return sum, err
		}
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

func fileSummary(dir *people.Dir, s *people.Staged) FileSummary {
	return FileSummary{Path: dir.Path() + "/" + s.Name, Entries: s.Entries, Installed: s.Installed, Changed: s.Changed}
}

// check applies the safety checks to a staged file.
func (j *MailDB) check(dir *people.Dir, s *people.Staged) error {
	path := dir.Path() + "/" + s.Name
	if s.Entries == 0 {
		return &RefusedError{File: path, Reason: "the dump is empty (is the domain reachable, and does the source name the right domain?)"}
	}
	if s.Installed > 0 {
		floor := int(math.Ceil((1 - j.MaxShrink) * float64(s.Installed)))
		if s.Entries < floor {
			return &RefusedError{File: path, Reason: fmt.Sprintf("the dump has %d entries and the installed file %d; [people] max_shrink = %g refuses fewer than %d", s.Entries, s.Installed, j.MaxShrink, floor)}
		}
	}
	return nil
}

// WritePasswd writes the source's users to w, one passwd line each, in the
// form they were read, with the password field "*" when redact is set. It
// returns the number of entries written.
func WritePasswd(ctx context.Context, src source.Source, w io.Writer, redact bool) (int, error) {
	n := 0
	var line []byte
	err := src.Passwd(ctx, func(e nidump.PasswdEntry) error {
		if redact {
			e.Passwd = "*"
		}
		line = append(e.AppendText(line[:0]), '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// WriteAliases writes the source's aliases to w through aliasfmt, one
// entry a line. stripped, if not nil, is called with every entry dropped.
func WriteAliases(ctx context.Context, src source.Source, w io.Writer, opts aliasfmt.Options, stripped func(nidump.Alias)) (aliasfmt.Stats, error) {
	aw, err := aliasfmt.NewWriter(w, opts, stripped)
	if err != nil {
		return aliasfmt.Stats{}, err
	}
	if err := src.Aliases(ctx, aw.Write); err != nil {
		return aw.Stats(), err
	}
	return aw.Stats(), aw.Flush()
}

// IsRefused reports whether err is a dump refused by a safety check.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
