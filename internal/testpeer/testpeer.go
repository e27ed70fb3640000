// Package testpeer starts real peers (OpenSSH sshd, OpenLDAP slapd) as plain
// processes on loopback for tests, and decides what happens when a peer is
// missing: a skip with a reason locally, a failure under CI=true.
package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// peer is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing stops the test because a peer it needs is not available: it skips
// with the reason locally and fails under CI=true.
func Missing(tb testing.TB, peer, reason string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s is required under CI=true but is missing: %s (.ci/run installs it)", peer, reason)
	}
	tb.Skipf("%s not available: %s (install it, or run .ci/run)", peer, reason)
}

// LookPath finds a program a peer needs, calling Missing when it is absent.
func LookPath(tb testing.TB, peer, program string) string {
	tb.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(tb, peer, err.Error())
	}
	return p
}
