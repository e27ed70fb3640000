package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/peoplesync/peoplesync/jobs"
)

// TestMain lets the tests run the real binary: testscript puts a
// `peoplesync` on the scripts' PATH that runs main, and the daemon tests
// exec it by that name. `peoplesync-test` is the same binary with a job
// named "boom" that panics.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"peoplesync": main,
		"peoplesync-test": func() {
			testRunHook = func(name string, run jobs.RunFunc) jobs.RunFunc {
				if name != "boom" {
					return run
				}
				return func(context.Context, *slog.Logger) (any, error) { panic("boom: a deliberate panic") }
			}
			main()
		},
	})
}

// TestScripts drives the built binary through testdata/script/*.txtar, the
// README's examples among them.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PEOPLESYNC_CONFIG", env.WorkDir+"/peoplesync.toml")
			return nil
		},
	})
}
