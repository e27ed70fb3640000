package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
)

// owed is the record, in Options.PendingDir, of the paths whose specials a
// host is owed: a special runs once for every owed path it matches.
type owed struct {
	Server string   `json:"server"`
	Paths  []string `json:"paths"`
}

// owedFile is the record's path for the host labelled label.
func owedFile(dir, label string) string {
	return filepath.Join(dir, url.PathEscape(label)+".json")
}

// loadOwed returns the paths recorded for the host labelled label.
func loadOwed(dir, label string) ([]string, error) {
	path := owedFile(dir, label)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, permanent(fmt.Errorf("read the specials owed to %s: %w", label, err))
	}
	var o owed
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, permanent(fmt.Errorf("read the specials owed to %s from %s: %w: remove the file, then run each special on %s by hand", label, path, err, label))
	}
	return o.Paths, nil
}

// saveOwed records paths for the host labelled label, atomically; no paths
// removes the record.
func saveOwed(dir, label string, paths []string) error {
	path := owedFile(dir, label)
	if len(paths) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear the specials owed to %s: %w", label, err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("record the specials owed to %s: %w", label, err)
	}
	paths = slices.Sorted(slices.Values(paths))
	b, err := json.MarshalIndent(owed{Server: label, Paths: paths}, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("record the specials owed to %s: %w", label, err)
	}
	return nil
}

// owedPaths returns the paths some special matches among those changed,
// those whose special failed, and extra: sorted, once each.
func (hr *hostRun) owedPaths(extra []Change) []string {
	var out []string
	add := func(p string) {
		for _, s := range hr.r.opts.Specials {
			if matchGlob(s.Match, p) {
				out = append(out, p)
				return
			}
		}
	}
	for p := range hr.changed {
		add(p)
	}
	for p := range hr.failed {
		add(p)
	}
	for _, c := range extra {
		add(c.Path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// recordOwed writes the specials the host is owed, extra included, to
// PendingDir when they differ from what it last wrote there.
func (hr *hostRun) recordOwed(extra []Change) error {
	dir := hr.r.opts.PendingDir
	if dir == "" || hr.r.opts.DryRun {
		return nil
	}
	paths := hr.owedPaths(extra)
	if slices.Equal(paths, hr.recorded) {
		return nil
	}
	if err := saveOwed(dir, hr.rep.Host, paths); err != nil {
		return permanent(err)
	}
	hr.recorded = paths
	return nil
}

// loadOwed marks the paths Options.PendingDir records for the host as
// changed, so that their specials run.
func (hr *hostRun) loadOwed() error {
	if hr.r.opts.PendingDir == "" {
		return nil
	}
	paths, err := loadOwed(hr.r.opts.PendingDir, hr.rep.Host)
	if err != nil && hr.r.opts.DryRun {
		// A dry run changes nothing, so it can go on without the record
		// (run by someone who may not read the state directory).
		hr.log.Warn("cannot read the specials owed to the server: the plan may leave some out", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if len(paths) > 0 {
		hr.log.Info("specials owed by an earlier run that stopped before they ran (or they failed): they run now", "files", paths)
	}
	for _, p := range paths {
		hr.changed[p] = true
	}
	hr.recorded = paths
	return nil
}

// warnOrphanedOwed logs the records in dir of specials owed to servers
// that are not among hosts any more: nothing will run them.
func warnOrphanedOwed(dir string, hosts []Host, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // none yet, or unreadable: each host reports its own
	}
	known := map[string]bool{}
	for _, h := range hosts {
		known[filepath.Base(owedFile(dir, h.label()))] = true
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != ".json" || known[e.Name()] {
			continue
		}
		label, err := url.PathUnescape(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			continue
		}
		paths, _ := loadOwed(dir, label)
		log.Warn("specials are owed to a server that is no longer configured: run them there by hand, then remove the record",
			"server", label, "files", paths, "record", filepath.Join(dir, e.Name()))
	}
}
