package jobs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

func record(job string, i int, outcome jobs.Outcome) jobs.Record {
	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC).AddDate(0, 0, i)
	return jobs.Record{
		ID: fmt.Sprintf("run%02d", i), Job: job, Trigger: jobs.TriggerSchedule, Scheduled: start,
		Start: start, End: start.Add(90 * time.Second), Outcome: outcome, Attempts: 1,
		Summary: json.RawMessage(fmt.Sprintf(`{"files_sent":{"venus":%d},"stripped":2}`, i)),
	}
}

func TestStateBoundedHistorySurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	st, err := jobs.OpenState(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if runs, err := st.History("sync"); err != nil || len(runs) != 0 {
		t.Fatalf("History of a job that never ran = %v, %v", runs, err)
	}
	if _, ok, err := st.Last("sync"); ok || err != nil {
		t.Fatalf("Last of a job that never ran = %v, %v", ok, err)
	}
	for i := range 8 {
		if err := st.Append(record("sync", i, jobs.OutcomeSuccess)); err != nil {
			t.Fatal(err)
		}
	}
	// A new State, as after a restart.
	st2, err := jobs.OpenState(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st2.History("sync")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	if want := []string{"run03", "run04", "run05", "run06", "run07"}; !slices.Equal(ids, want) {
		t.Fatalf("history = %v, want the last 5, oldest first: %v", ids, want)
	}
	last, ok, err := st2.Last("sync")
	if err != nil || !ok || last.ID != "run07" || string(last.Summary) != `{"files_sent":{"venus":7},"stripped":2}` {
		t.Fatalf("Last = %+v, %v, %v", last, ok, err)
	}
	if !last.Start.Equal(record("sync", 7, "").Start) || last.Duration() != 90*time.Second {
		t.Errorf("times did not round-trip: %+v", last)
	}
	// Only the history file is left: no temporary files.
	entries, err := os.ReadDir(filepath.Join(dir, "history"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "sync.json" || st2.Path("sync") != filepath.Join(dir, "history", "sync.json") {
		t.Errorf("history directory holds %v, want only sync.json", entries)
	}
	info, err := os.Stat(st2.Path("sync"))
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("history file mode = %v, %v; want 0644 so that status works for other users", info.Mode(), err)
	}
}

// TestStateWritesAreAtomic reads the file while it is rewritten: every read
// sees a complete history.
func TestStateWritesAreAtomic(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	st, err := jobs.OpenState(dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(record("maildb", 0, jobs.OutcomeSuccess)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			data, err := os.ReadFile(st.Path("maildb"))
			if err != nil {
				readErr = err
				return
			}
			var v struct{ Runs []jobs.Record }
			if err := json.Unmarshal(data, &v); err != nil || len(v.Runs) == 0 {
				readErr = fmt.Errorf("partial file (%d bytes): %v", len(data), err)
				return
			}
		}
	})
	for i := 1; i < 200; i++ {
		if err := st.Append(record("maildb", i, jobs.OutcomeFailure)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("a reader saw: %v", readErr)
	}
}

func TestStateCorruptHistory(t *testing.T) {
	dir := t.TempDir()
	st, err := jobs.OpenState(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.Path("sync"), []byte(`{"version":1,"job":"sync","runs":[{`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.History("sync"); err == nil || !strings.Contains(err.Error(), st.Path("sync")) {
		t.Fatalf("History of a corrupt file = %v, want an error naming the file", err)
	}
	if err := st.Append(record("sync", 1, jobs.OutcomeSuccess)); err != nil {
		t.Fatalf("Append over a corrupt file: %v", err)
	}
	if runs, err := st.History("sync"); err != nil || len(runs) != 1 {
		t.Fatalf("History after Append = %v, %v; want a fresh history", runs, err)
	}
	if _, err := os.Stat(st.Path("sync") + ".corrupt"); err != nil {
		t.Errorf("corrupt file not kept aside: %v", err)
	}
	// A file of another job, or another version, is not taken as ours.
	if err := os.WriteFile(st.Path("maildb"), []byte(`{"version":1,"job":"sync","runs":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.History("maildb"); err == nil {
		t.Errorf("History accepted a file holding another job")
	}
	if _, err := st.History("../etc/passwd"); err == nil {
		t.Errorf("History accepted a path as a job name")
	}
	if _, err := jobs.OpenState("", 0); err == nil {
		t.Errorf("OpenState accepted no directory")
	}
}

func TestReadStatus(t *testing.T) {
	dir := t.TempDir()
	st, err := jobs.OpenState(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range []jobs.Outcome{jobs.OutcomeSuccess, jobs.OutcomeSuccess, jobs.OutcomeTimeout} {
		if err := st.Append(record("maildb", i, o)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(st.Path("broken"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	ny := mustLoad(t, "America/New_York")
	js := []jobs.Job{
		{Name: "sync", After: "maildb", Run: noop},
		{Name: "maildb", Schedule: mustParse(t, "0 2 * * *", ny), Run: noop},
		{Name: "broken", Run: noop},
	}
	now := time.Date(2026, 3, 8, 1, 0, 0, 0, ny)
	got, err := jobs.ReadStatus(dir, js, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Job != "maildb" || got[1].Job != "sync" || got[2].Job != "broken" {
		t.Fatalf("ReadStatus = %+v, want maildb, sync, broken", got)
	}
	m := got[0]
	if m.Schedule != "0 2 * * *" || m.Timezone != "America/New_York" || m.Next.Format(time.RFC3339) != "2026-03-08T03:00:00-04:00" {
		t.Errorf("maildb schedule status = %+v", m)
	}
	if m.Last == nil || m.Last.ID != "run02" || m.Last.Outcome != jobs.OutcomeTimeout || !m.LastSuccess.Equal(record("", 1, "").Start) {
		t.Errorf("maildb last runs = %+v (last success %s)", m.Last, m.LastSuccess)
	}
	if s := got[1]; s.After != "maildb" || !s.Next.IsZero() || s.Last != nil || s.Error != "" {
		t.Errorf("sync status = %+v, want no schedule and no runs", s)
	}
	if b := got[2]; !strings.Contains(b.Error, "broken.json") {
		t.Errorf("broken status = %+v, want the read error", b)
	}
	data, err := json.Marshal(got[1])
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"job":"sync","after":"maildb"}` {
		t.Errorf("JSON of an unscheduled job that never ran = %s", data)
	}
}
