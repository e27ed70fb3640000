package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// DefaultHistory is how many runs per job State keeps unless told otherwise.
const DefaultHistory = 50

// stateVersion is the version of the history file format.
const stateVersion = 1

// Outcome is how a run ended.
type Outcome string

// The outcomes of a run. Everything but OutcomeSuccess counts as a failure.
const (
	OutcomeSuccess  Outcome = "success"
	OutcomeFailure  Outcome = "failure"  // the job returned an error
	OutcomeTimeout  Outcome = "timeout"  // the job's Timeout cancelled it
	OutcomePanic    Outcome = "panic"    // the job panicked; the stack is logged
	OutcomeCanceled Outcome = "canceled" // shutdown or the caller cancelled it
)

// Trigger says why a run started.
type Trigger string

// The triggers of a run.
const (
	TriggerSchedule Trigger = "schedule" // the job's schedule came due
	TriggerCatchUp  Trigger = "catch-up" // a run missed while the daemon was down
	TriggerAfter    Trigger = "after"    // the job it runs after succeeded
	TriggerManual   Trigger = "manual"   // run-once
)

// Record is one run of a job, as kept in the state directory.
type Record struct {
	ID        string          `json:"id"`                 // unique run id, also logged as run_id
	Job       string          `json:"job"`                // the job's name
	Trigger   Trigger         `json:"trigger"`            // why it ran
	Scheduled time.Time       `json:"scheduled,omitzero"` // the schedule slot, for schedule and catch-up runs
	Start     time.Time       `json:"start"`              // when the first attempt started
	End       time.Time       `json:"end"`                // when the last attempt ended
	Outcome   Outcome         `json:"outcome"`            // how it ended
	Error     string          `json:"error,omitempty"`    // the last attempt's error
	Attempts  int             `json:"attempts"`           // 1 + retries used
	Summary   json.RawMessage `json:"summary,omitempty"`  // what the job returned, as JSON
}

// Duration returns how long the run took.
func (r Record) Duration() time.Duration { return r.End.Sub(r.Start) }

// historyFile is the on-disk form of one job's history.
type historyFile struct {
	Version int      `json:"version"`
	Job     string   `json:"job"`
	Runs    []Record `json:"runs"` // oldest first
}

// State is the run history kept in a state directory: one JSON file per
// job, STATE_DIR/history/JOB.json, replaced atomically (write a temporary
// file, fsync, rename) and holding the last runs of the job.
//
// Writers of a job's history must hold the job's lock (LockJob), which
// the Scheduler and RunOnce do; State also serializes writers within the
// process.
type State struct {
	dir  string
	keep int
	mu   sync.Mutex
}

// OpenState returns the history in stateDir, keeping at most keep runs per
// job (DefaultHistory if keep <= 0). It creates the directory if needed.
func OpenState(stateDir string, keep int) (*State, error) {
	if stateDir == "" {
		return nil, errors.New("open state: no state directory")
	}
	if keep <= 0 {
		keep = DefaultHistory
	}
	dir := filepath.Join(stateDir, "history")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	return &State{dir: dir, keep: keep}, nil
}

// Path returns the history file of a job.
func (s *State) Path(job string) string { return filepath.Join(s.dir, job+".json") }

// History returns the job's runs, oldest first; none if it never ran.
func (s *State) History(job string) ([]Record, error) {
	if err := validName(job); err != nil {
		return nil, err
	}
	h, err := s.read(job)
	if err != nil {
		return nil, err
	}
	return h.Runs, nil
}

// Last returns the job's latest run, and false if it never ran.
func (s *State) Last(job string) (Record, bool, error) {
	runs, err := s.History(job)
	if err != nil || len(runs) == 0 {
		return Record{}, false, err
	}
	return runs[len(runs)-1], true, nil
}

// Append adds a run to its job's history, dropping the oldest runs beyond
// the limit, and replaces the file atomically. A history file that cannot
// be parsed is renamed to FILE.corrupt and a new history started, so that
// one bad file does not stop recording.
func (s *State) Append(rec Record) error {
	if err := validName(rec.Job); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := s.Path(rec.Job)
	h, err := s.read(rec.Job)
	if err != nil {
		var corrupt *corruptError
		if !errors.As(err, &corrupt) {
			return fmt.Errorf("record run %s of job %s: %w", rec.ID, rec.Job, err)
		}
		if err := os.Rename(path, path+".corrupt"); err != nil {
			return fmt.Errorf("record run %s of job %s: move aside unreadable history: %w", rec.ID, rec.Job, err)
		}
		h = historyFile{}
	}
	h.Version = stateVersion
	h.Job = rec.Job
	h.Runs = append(h.Runs, rec)
	if n := len(h.Runs) - s.keep; n > 0 {
		h.Runs = append([]Record(nil), h.Runs[n:]...)
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("record run %s of job %s: %w", rec.ID, rec.Job, err)
	}
	data = append(data, '\n')
	if err := renameio.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("record run %s of job %s: write %s: %w", rec.ID, rec.Job, path, err)
	}
	return nil
}

// corruptError is a history file that is not valid JSON of the expected
// shape.
type corruptError struct {
	path string
	err  error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("read history %s: %v (remove or fix the file)", e.path, e.err)
}

func (e *corruptError) Unwrap() error { return e.err }

func (s *State) read(job string) (historyFile, error) {
	path := s.Path(job)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return historyFile{}, nil
	}
	if err != nil {
		return historyFile{}, fmt.Errorf("read history: %w", err)
	}
	var h historyFile
	if err := json.Unmarshal(data, &h); err != nil {
		return historyFile{}, &corruptError{path: path, err: err}
	}
	if h.Version != stateVersion {
		return historyFile{}, &corruptError{path: path, err: fmt.Errorf("unknown version %d", h.Version)}
	}
	if h.Job != job {
		return historyFile{}, &corruptError{path: path, err: fmt.Errorf("holds job %q, want %q", h.Job, job)}
	}
	// The file is indented for people; give summaries back compact.
	for i := range h.Runs {
		if s := h.Runs[i].Summary; len(s) > 0 {
			var b bytes.Buffer
			if json.Compact(&b, s) == nil {
				h.Runs[i].Summary = b.Bytes()
			}
		}
	}
	return h, nil
}

// JobStatus is what `peoplesync status` shows for a job.
type JobStatus struct {
	Job         string    `json:"job"`
	Schedule    string    `json:"schedule,omitempty"`
	Timezone    string    `json:"timezone,omitempty"`
	After       string    `json:"after,omitempty"`
	Next        time.Time `json:"next,omitzero"`         // the next scheduled run, if scheduled
	Last        *Record   `json:"last,omitempty"`        // the latest run, if any
	LastSuccess time.Time `json:"last_success,omitzero"` // start of the latest successful run in the kept history
	Error       string    `json:"error,omitempty"`       // why the history could not be read
}

// ReadStatus returns the status of each job, in pipeline order (see
// Order), from the history in stateDir and the schedules: the next run is
// the schedule's next time after now (a daemon may run it later by up to
// the job's Jitter). An unreadable history is reported in that job's Error
// rather than failing the whole status.
func ReadStatus(stateDir string, jobs []Job, now time.Time) ([]JobStatus, error) {
	ordered, err := Order(jobs)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st := &State{dir: filepath.Join(stateDir, "history"), keep: DefaultHistory}
	out := make([]JobStatus, 0, len(ordered))
	for _, j := range ordered {
		js := JobStatus{Job: j.Name, After: j.After}
		if j.Schedule != nil {
			js.Schedule = j.Schedule.String()
			js.Timezone = j.Schedule.Location().String()
			js.Next = j.Schedule.Next(now)
		}
		runs, err := st.History(j.Name)
		if err != nil {
			js.Error = err.Error()
		}
		if len(runs) > 0 {
			last := runs[len(runs)-1]
			js.Last = &last
		}
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Outcome == OutcomeSuccess {
				js.LastSuccess = runs[i].Start
				break
			}
		}
		out = append(out, js)
	}
	return out, nil
}
