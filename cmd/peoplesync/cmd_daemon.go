package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
)

func (a *app) daemonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the jobs on their schedules until stopped (under systemd: Type=notify)",
		Long: `daemon runs the configured jobs on their schedules, replacing cron, until
SIGTERM or SIGINT: then it stops scheduling, waits for running jobs up to
[daemon] shutdown_grace and cancels the rest. SIGHUP reloads the config: a valid
one replaces the jobs without interrupting running ones; an invalid one is
logged and the old config keeps running.

Under systemd it speaks sd_notify (READY=1, STATUS=, RELOADING=1, STOPPING=1,
WATCHDOG=1) and logs to the journal with JOB=, RUN_ID=, SERVER= fields.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.daemon(cmd.Context(), c)
		},
	}
}

func (a *app) daemon(ctx context.Context, c *config.Config) error {
	log := a.log
	if err := checkStateOwner(c.StateDir); err != nil {
		return err
	}
	notify := jobs.NewNotifier(nil)
	metrics := jobs.NewMetrics()
	js, err := buildJobs(c, jobEnv{metric: metrics})
	if err != nil {
		return err
	}
	var s *jobs.Scheduler
	opts := schedulerOptions(c, log, metrics)
	opts.OnChange = func() { _ = notify.Status(s.StatusLine()) }
	s, err = jobs.NewScheduler(js, opts)
	if err != nil {
		return err
	}
	if c.Metrics.Listen != "" {
		srv, err := jobs.ListenMetrics(c.Metrics.Listen, metrics, s.Healthy)
		if err != nil {
			return failed(fmt.Errorf("metrics: listen on %s: %w: change [metrics] listen", c.Metrics.Listen, err))
		}
		defer srv.Close(context.Background())
		log.Info("metrics listening", "addr", srv.Addr().String())
	}
	if err := s.Start(); err != nil {
		return failed(err)
	}
	if err := notify.Ready(); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
	_ = notify.Status(s.StatusLine())
	log.Info("daemon started", "config", c.File, "jobs", len(js), "state_dir", c.StateDir)

	wdCtx, stopWatchdog := context.WithCancel(context.Background())
	defer stopWatchdog()
	go func() {
		_ = notify.Watchdog(wdCtx, s.Healthy, func(err error) { log.Error("watchdog", "err", err) })
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	grace := c.Daemon.ShutdownGrace
	for {
		select {
		case <-hup:
			_ = notify.Reloading()
			if next, err := a.reload(metrics); err != nil {
				log.Error("reload refused: the running config stays", "config", a.configPath, "err", err)
			} else if err := s.Replace(next.jobs); err != nil {
				log.Error("reload refused: the running config stays", "config", a.configPath, "err", err)
			} else {
				grace = next.cfg.Daemon.ShutdownGrace
				log.Info("config reloaded", "config", next.cfg.File, "jobs", len(next.jobs))
			}
			_ = notify.Ready()
			_ = notify.Status(s.StatusLine())
		case <-ctx.Done():
			_ = notify.Stopping()
			log.Info("stopping: waiting for running jobs", "grace", grace)
			if err := s.Stop(grace); err != nil {
				log.Warn("stopped", "err", err)
			} else {
				log.Info("stopped")
			}
			return nil
		}
	}
}

type loaded struct {
	cfg  *config.Config
	jobs []jobs.Job
}

// reload reads the config again and builds its jobs.
func (a *app) reload(metrics *jobs.Metrics) (loaded, error) {
	c, err := a.loadConfig()
	if err != nil {
		return loaded{}, err
	}
	js, err := buildJobs(c, jobEnv{metric: metrics})
	if err != nil {
		return loaded{}, err
	}
	return loaded{cfg: c, jobs: js}, nil
}
