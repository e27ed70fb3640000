// Command peoplesync keeps a mail site's People directory (the passwd and
// aliases NeXTmail reads, and the users' pictures) built from the mail
// domain and copied to every mail server: the nightly mailDBupdate, nidump,
// awk/sed, grep -v and rdist job as one program.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // schedules name zones; the binary carries the database
)

// The garbage collector's settings, unless GOGC or GOMEMLIMIT say
// otherwise. What peoplesync keeps live is small (a few MB: it streams),
// but reading LDAP allocates a great deal that dies at once (go-ldap's BER
// decoding), and with the default pacing collecting that is a third of the
// dump's CPU. Collecting less often, within a cap on the heap, takes that
// to a few percent: measured, the LDAP dump takes 30% less time, while peak
// RSS stays far under the cap (maildb on 1,000,000 aliases: 20 MB before,
// 32 MB after; sync: 45 to 68 MB).
const (
	gcPercent   = 400
	memoryLimit = 64 << 20
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdin, os.Stdout, os.Stderr).execute(ctx, os.Args[1:])
	stop()
	code := exitCode(err)
	if err != nil && !isSilent(err) {
		fmt.Fprintf(os.Stderr, "peoplesync: %v\n", err)
	}
	os.Exit(code)
}
