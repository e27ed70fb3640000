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
	"syscall"
	_ "time/tzdata" // schedules name zones; the binary carries the database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdin, os.Stdout, os.Stderr).execute(ctx, os.Args[1:])
	stop()
	code := exitCode(err)
	if err != nil && !isSilent(err) {
		fmt.Fprintf(os.Stderr, "peoplesync: %v\n", err)
	}
	os.Exit(code)
}
