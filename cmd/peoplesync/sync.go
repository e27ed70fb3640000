package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/jobs"
)

// syncRun is the sync job: push the People directory to every server.
func syncRun(c *config.Config, env jobEnv) jobs.RunFunc {
	return func(ctx context.Context, log *slog.Logger) (any, error) {
		if len(c.Servers) == 0 {
			log.Info("no [[server]] configured: nothing to sync")
			return nil, nil
		}
		return nil, errors.New("sync: not wired yet")
	}
}

// retryable says whether a failed job attempt may be retried.
func retryable(err error) bool { return err != nil }
