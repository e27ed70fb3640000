package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/jobs"
)

func noop(context.Context, *slog.Logger) (any, error) { return nil, nil }

func names(js []jobs.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Name
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		jobs []jobs.Job
		want []string // substrings of the error; none: valid
	}{
		{"empty set", nil, nil},
		{"built-in pipeline", []jobs.Job{{Name: "maildb", Run: noop}, {Name: "sync", After: "maildb", Run: noop}}, nil},
		{"bad names", []jobs.Job{{Name: "", Run: noop}, {Name: "../x", Run: noop}, {Name: "-x", Run: noop}, {Name: strings.Repeat("a", 65), Run: noop}},
			[]string{`invalid job name ""`, `invalid job name "../x"`, `invalid job name "-x"`, "invalid job name \"aaaa"}},
		{"duplicate", []jobs.Job{{Name: "a", Run: noop}, {Name: "a", Run: noop}}, []string{"job a: defined twice"}},
		{"no run", []jobs.Job{{Name: "a"}}, []string{"job a: no run function"}},
		{"negative", []jobs.Job{{Name: "a", Run: noop, Timeout: -1, Retries: -1}}, []string{"negative timeout", "negative retries"}},
		{"after itself", []jobs.Job{{Name: "a", After: "a", Run: noop}}, []string{"job a: runs after itself"}},
		{"after unknown", []jobs.Job{{Name: "sync", After: "mialdb", Run: noop}, {Name: "maildb", Run: noop}},
			[]string{`job sync: runs after unknown job "mialdb" (jobs: maildb, sync)`}},
		{"cycle", []jobs.Job{{Name: "a", After: "c", Run: noop}, {Name: "b", After: "a", Run: noop}, {Name: "c", After: "b", Run: noop}, {Name: "d", Run: noop}},
			[]string{"cycle: a -> c -> b -> a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := jobs.Validate(tc.jobs)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to contain %q", err, w)
				}
			}
		})
	}
	if err := jobs.Validate([]jobs.Job{{Name: "a", After: "b", Run: noop}, {Name: "b", After: "a", Run: noop}}); !errors.Is(err, jobs.ErrCycle) {
		t.Errorf("cycle error %v does not wrap ErrCycle", err)
	}
}

func TestOrder(t *testing.T) {
	js := []jobs.Job{
		{Name: "rotate", Run: noop},
		{Name: "report", After: "sync", Run: noop},
		{Name: "sync", After: "maildb", Run: noop},
		{Name: "maildb", Run: noop},
		{Name: "audit", After: "maildb", Run: noop},
	}
	tests := []struct {
		names []string
		want  []string
	}{
		{nil, []string{"rotate", "maildb", "sync", "report", "audit"}},
		{[]string{"report", "maildb"}, []string{"maildb", "report"}},
		{[]string{"sync", "sync"}, []string{"sync"}},
	}
	for _, tc := range tests {
		got, err := jobs.Order(js, tc.names...)
		if err != nil {
			t.Fatalf("Order(%v): %v", tc.names, err)
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("Order(%v) = %v, want %v", tc.names, names(got), tc.want)
		}
	}
	if _, err := jobs.Order(js, "mialdb"); err == nil || !strings.Contains(err.Error(), `unknown job "mialdb" (configured: rotate, report, sync, maildb, audit)`) {
		t.Errorf("Order with an unknown name = %v", err)
	}
	if _, err := jobs.Order([]jobs.Job{{Name: "a", After: "a", Run: noop}}); err == nil {
		t.Errorf("Order accepted an invalid set")
	}
}
