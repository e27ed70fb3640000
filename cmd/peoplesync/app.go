package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/peoplesync/peoplesync/config"
)

// app is one invocation of peoplesync: its streams, global flags and what
// they resolve to.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	configPath string
	logFormat  string
	logLevel   string

	log *slog.Logger
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr}
}

// execute parses args and runs the command they name.
func (a *app) execute(ctx context.Context, args []string) error {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	return root.ExecuteContext(ctx)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "peoplesync",
		Short: "Build the People directory from the mail domain and copy it to every mail server",
		Long: `peoplesync keeps the People directory (/LocalLibrary/Images/People: the passwd
and aliases NeXTmail reads, and users' pictures) built from the mail domain and
copied to every mail server. It replaces the nightly mailDBupdate, nidump,
awk/sed, grep -v and rdist job.

Exit status: 0 ok, 1 a job failed, 2 usage or configuration error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(a.stderr, a.logFormat, a.logLevel)
			if err != nil {
				return err
			}
			a.log = log
			return nil
		},
	}
	defaultConfig := os.Getenv("PEOPLESYNC_CONFIG")
	if defaultConfig == "" {
		defaultConfig = config.DefaultPath
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", defaultConfig, "config `FILE` (default $PEOPLESYNC_CONFIG, else "+config.DefaultPath+")")
	pf.StringVar(&a.logFormat, "log-format", "auto", "log format: auto (journald when run by systemd, else text), text or json")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(
		a.checkCommand(),
		a.aliasfmtCommand(),
		a.dumpCommand(),
		a.runOnceCommand(),
		a.planCommand(),
		a.demoCommand(),
		a.daemonCommand(),
		a.nextCommand(),
		a.statusCommand(),
		a.lintCommand(),
		a.aliasesCommand(),
	)
	return root
}

// loadConfig reads the config named by --config.
func (a *app) loadConfig() (*config.Config, error) {
	return config.Load(a.configPath)
}
