package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own
// (nothing is registered globally):
//
//	peoplesync_job_runs_total{job,outcome}          runs that finished
//	peoplesync_job_failures_total{job}              runs that did not succeed
//	peoplesync_job_skipped_total{job,reason}        runs skipped (still running, locked)
//	peoplesync_job_running{job}                     1 while the job runs
//	peoplesync_job_duration_seconds{job}            run durations
//	peoplesync_job_last_success_timestamp_seconds{job}
//	peoplesync_sync_files_sent_total{server}        files installed per server
//	peoplesync_sync_bytes_sent_total{server}        bytes sent per server
//
// plus the Go runtime and process collectors. A nil *Metrics records
// nothing, so callers need not check.
type Metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	running     *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	filesSent   *prometheus.CounterVec
	bytesSent   *prometheus.CounterVec
}

// NewMetrics creates the metrics on a new private registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peoplesync_job_runs_total", Help: "Job runs that finished, by outcome.",
		}, []string{"job", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peoplesync_job_failures_total", Help: "Job runs that did not succeed (failure, timeout, panic, canceled).",
		}, []string{"job"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peoplesync_job_skipped_total", Help: "Job runs skipped because the job was still running or locked by another process.",
		}, []string{"job", "reason"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "peoplesync_job_running", Help: "1 while the job runs.",
		}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "peoplesync_job_duration_seconds",
			Help:    "Duration of job runs, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14), // 0.5s .. ~68m
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "peoplesync_job_last_success_timestamp_seconds", Help: "Unix time the job's last successful run ended.",
		}, []string{"job"}),
		filesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peoplesync_sync_files_sent_total", Help: "Files installed on a server by sync.",
		}, []string{"server"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peoplesync_sync_bytes_sent_total", Help: "Bytes sent to a server by sync.",
		}, []string{"server"}),
	}
	m.reg.MustRegister(m.runs, m.failures, m.skipped, m.running, m.duration, m.lastSuccess, m.filesSent, m.bytesSent,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the private registry, to add collectors or to gather
// in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AddSent counts files and bytes sent to a server (call it from the sync
// job, once per server and run or per file).
func (m *Metrics) AddSent(server string, files int, bytes int64) {
	if m == nil {
		return
	}
	m.filesSent.WithLabelValues(server).Add(float64(files))
	m.bytesSent.WithLabelValues(server).Add(float64(bytes))
}

func (m *Metrics) runStarted(job string) {
	if m == nil {
		return
	}
	m.running.WithLabelValues(job).Set(1)
}

func (m *Metrics) runFinished(job string, o Outcome, d time.Duration, end time.Time) {
	if m == nil {
		return
	}
	m.running.WithLabelValues(job).Set(0)
	m.runs.WithLabelValues(job, string(o)).Inc()
	m.duration.WithLabelValues(job).Observe(d.Seconds())
	if o == OutcomeSuccess {
		m.lastSuccess.WithLabelValues(job).Set(float64(end.UnixNano()) / 1e9)
	} else {
		m.failures.WithLabelValues(job).Inc()
	}
}

func (m *Metrics) runSkipped(job, reason string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(job, reason).Inc()
}

// Handler serves /metrics from the private registry and /healthz, which
// answers 200 "ok" when healthy returns nil (or is nil) and 503 with the
// error otherwise. Pass Scheduler.Healthy.
func (m *Metrics) Handler(healthy func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if healthy != nil {
			if err := healthy(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// MetricsServer serves Metrics.Handler over HTTP.
type MetricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// ListenMetrics listens on addr ("127.0.0.1:9108"; port 0 picks one) and
// serves /metrics and /healthz in a goroutine until Close. It returns the
// listen error at once, so a bad address fails the daemon's start.
func ListenMetrics(addr string, m *Metrics, healthy func() error) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	s := &MetricsServer{
		srv: &http.Server{
			Handler:           m.Handler(healthy),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *MetricsServer) Addr() net.Addr { return s.ln.Addr() }

// Close shuts the server down gracefully until ctx is done, then closes
// it.
func (s *MetricsServer) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("metrics: close server on %s: %w", s.ln.Addr(), err)
	}
	return nil
}
