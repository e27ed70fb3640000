package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestMetricsServer(t *testing.T) {
	noLeaks(t)
	m := jobs.NewMetrics()
	_ = jobs.NewMetrics() // a second set does not collide: nothing is global
	js := []jobs.Job{
		{Name: "good", Run: noop},
		{Name: "bad", Run: func(context.Context, *slog.Logger) (any, error) { return nil, errors.New("no") }},
	}
	if _, err := jobs.RunOnce(t.Context(), js, nil, jobs.LockFail, jobs.Options{StateDir: t.TempDir(), Metrics: m}); err == nil {
		t.Fatal("want the bad job to fail")
	}
	m.AddSent("venus", 3, 4096)
	m.AddSent("venus", 1, 1024)
	var nilMetrics *jobs.Metrics
	nilMetrics.AddSent("mars", 1, 1) // a nil *Metrics records nothing and does not panic

	var unhealthy atomic.Pointer[error]
	srv, err := jobs.ListenMetrics("127.0.0.1:0", m, func() error {
		if p := unhealthy.Load(); p != nil {
			return *p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr().String()

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`peoplesync_job_runs_total{job="good",outcome="success"} 1`,
		`peoplesync_job_runs_total{job="bad",outcome="failure"} 1`,
		`peoplesync_job_failures_total{job="bad"} 1`,
		`peoplesync_job_duration_seconds_count{job="good"} 1`,
		`peoplesync_job_running{job="good"} 0`,
		`peoplesync_job_last_success_timestamp_seconds{job="good"} `,
		`peoplesync_sync_files_sent_total{server="venus"} 4`,
		`peoplesync_sync_bytes_sent_total{server="venus"} 5120`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `peoplesync_job_last_success_timestamp_seconds{job="bad"}`) || strings.Contains(body, "mars") {
		t.Errorf("/metrics has series it should not")
	}

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	stuck := errors.New("scheduler loop last ran 5m ago")
	unhealthy.Store(&stuck)
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "last ran 5m ago") {
		t.Errorf("/healthz when unhealthy = %d %q", code, body)
	}
	if code, _ := get(t, base+"/other"); code != http.StatusNotFound {
		t.Errorf("/other = %d", code)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()

	if _, err := jobs.ListenMetrics("127.0.0.1:99999", m, nil); err == nil || !strings.Contains(err.Error(), "127.0.0.1:99999") {
		t.Errorf("ListenMetrics on a bad address = %v", err)
	}
}
