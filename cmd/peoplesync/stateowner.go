package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkStateOwner refuses to run jobs as root in a state directory that
// belongs to another user (the service user the units run as): the run's
// history, locks and owed specials would be root's files there, which the
// daemon could then not write, and it would fail later, far from the cause.
func checkStateOwner(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil // created as needed, by whoever runs first
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	name := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("state_dir %s belongs to user %s, and this runs as root: the daemon could not write the state files it would leave there; run it as that user (sudo -u %s peoplesync ...)", dir, name, name)
}
