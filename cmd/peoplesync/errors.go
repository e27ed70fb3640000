package main

import (
	"errors"

	"github.com/peoplesync/peoplesync/config"
)

// Exit codes: admins' scripts and cron lines depend on them.
const (
	exitOK     = 0 // everything asked for was done
	exitFailed = 1 // a job failed (or lint found problems)
	exitUsage  = 2 // usage or configuration error
)

// failedError marks an error as a failed job rather than a usage error.
type failedError struct{ err error }

func (e failedError) Error() string { return e.err.Error() }
func (e failedError) Unwrap() error { return e.err }

// failed marks err (if not nil) as a job failure: exit status 1.
func failed(err error) error {
	if err == nil {
		return nil
	}
	return failedError{err}
}

// silentError exits with a code without printing: the command already said
// what went wrong.
type silentError struct{ code int }

func (e silentError) Error() string { return "exit" }

func isSilent(err error) bool {
	var s silentError
	return errors.As(err, &s)
}

// exitCode maps an error to the process's exit status, in one place.
func exitCode(err error) int {
	var s silentError
	var f failedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &s):
		return s.code
	case config.IsConfigError(err):
		return exitUsage
	case errors.As(err, &f):
		return exitFailed
	default:
		// Unknown commands, bad flags and arguments.
		return exitUsage
	}
}
