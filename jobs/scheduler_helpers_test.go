package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peoplesync/peoplesync/jobs"
)

// bubbleClock is a jobs.Clock for tests inside a synctest bubble: the
// bubble's fake time shifted to a chosen wall-clock start. Shift moves the
// wall clock without moving monotonic time, like an NTP step or a suspend
// seen from the wall clock.
type bubbleClock struct{ offset atomic.Int64 }

// newBubbleClock must be called inside the bubble.
func newBubbleClock(start time.Time) *bubbleClock {
	c := &bubbleClock{}
	c.offset.Store(int64(time.Until(start)))
	return c
}

func (c *bubbleClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *bubbleClock) NewTimer(d time.Duration) jobs.Timer { return timer{time.NewTimer(d)} }

// Shift jumps the wall clock by d.
func (c *bubbleClock) Shift(d time.Duration) { c.offset.Add(int64(d)) }

type timer struct{ t *time.Timer }

func (t timer) C() <-chan time.Time { return t.t.C }
func (t timer) Stop() bool          { return t.t.Stop() }

// logRecord is a captured log record with its attributes flattened.
type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (r logRecord) String() string {
	keys := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.Level, r.Msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, r.Attrs[k])
	}
	return b.String()
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
}

func newLogCapture() *logCapture {
	return &logCapture{mu: new(sync.Mutex), records: new([]logRecord)}
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), as...)
	return &c
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

func (h *logCapture) Logger() *slog.Logger { return slog.New(h) }

// Find returns the records whose message contains msg and whose
// attributes include every key=value pair in kv.
func (h *logCapture) Find(msg string, kv ...string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
next:
	for _, r := range *h.records {
		if !strings.Contains(r.Msg, msg) {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

func (h *logCapture) Dump(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.records {
		t.Log(r)
	}
}

// noLeaks checks at the end of the test that it left no goroutines.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// history reads a job's records.
func history(t testing.TB, stateDir, job string) []jobs.Record {
	t.Helper()
	st, err := jobs.OpenState(stateDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.History(job)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// waitFor polls cond until it holds or the deadline passes. Outside a
// bubble only; inside one, use synctest.Wait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func formatTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339)
	}
	return out
}
