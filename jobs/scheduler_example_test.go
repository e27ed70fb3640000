package jobs_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// loadJobs stands for reading the configuration and building the jobs.
func loadJobs() ([]jobs.Job, error) {
	nightly, err := jobs.ParseSchedule("0 2 * * *", time.Local)
	if err != nil {
		return nil, err
	}
	rotate, err := jobs.ParseSchedule("@daily", time.Local)
	if err != nil {
		return nil, err
	}
	return []jobs.Job{
		{Name: "maildb", Schedule: nightly, CatchUp: true, Timeout: 30 * time.Minute, Run: noop},
		{Name: "sync", After: "maildb", Retries: 2, Run: noop},
		{Name: "rotate", Schedule: rotate, Jitter: 10 * time.Minute,
			Run: jobs.Command{Argv: []string{"/usr/local/sbin/rotate-spool", "--keep", "7"}}.Run},
	}, nil
}

// The daemon's wiring: scheduler, signals, sd_notify, metrics. (Not run:
// it waits for signals.)
func Example_daemon() {
	log := slog.Default()
	js, err := loadJobs()
	if err != nil {
		log.Error("config", "err", err)
		return
	}
	notify := jobs.NewNotifier(nil)
	metrics := jobs.NewMetrics()
	var s *jobs.Scheduler
	s, err = jobs.NewScheduler(js, jobs.Options{
		StateDir: "/var/lib/peoplesync",
		Logger:   log,
		Metrics:  metrics,
		OnChange: func() { _ = notify.Status(s.StatusLine()) },
	})
	if err != nil {
		log.Error("scheduler", "err", err)
		return
	}
	srv, err := jobs.ListenMetrics("127.0.0.1:9108", metrics, s.Healthy)
	if err != nil {
		log.Error("metrics", "err", err)
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	if err := s.Start(); err != nil {
		log.Error("start", "err", err)
		return
	}
	_ = notify.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = notify.Watchdog(ctx, s.Healthy, func(err error) { log.Warn("watchdog", "err", err) })
	}()
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			_ = notify.Reloading()
			if js, err := loadJobs(); err != nil {
				log.Error("reload rejected, keeping the running configuration", "err", err)
			} else if err := s.Replace(js); err != nil {
				log.Error("reload rejected, keeping the running configuration", "err", err)
			}
			_ = notify.Ready()
			continue
		}
		_ = notify.Stopping()
		if err := s.Stop(time.Minute); err != nil {
			log.Warn("stop", "err", err)
		}
		break
	}
	cancel()
	_ = srv.Close(context.Background())
}
