// Package systemd holds peoplesync's systemd units, embedded so that an
// installer (make install, or the CLI) can write them out:
//
//   - peoplesync.service: the daemon (Type=notify, watchdog, reload on
//     SIGHUP, a dedicated user, sandboxed);
//   - peoplesync-once.service and peoplesync.timer: a nightly run-once,
//     for sites that prefer a timer to the daemon.
//
// The units expect the binary at /usr/local/bin/peoplesync.
package systemd

import (
	"embed"
	"io/fs"
)

//go:embed peoplesync.service peoplesync-once.service peoplesync.timer
var units embed.FS

// UnitNames lists the unit files, in the order to install them.
func UnitNames() []string {
	return []string{"peoplesync.service", "peoplesync-once.service", "peoplesync.timer"}
}

// Units returns the unit files, by name.
func Units() fs.FS { return units }

// BinaryPath is where the units expect the peoplesync binary.
const BinaryPath = "/usr/local/bin/peoplesync"
