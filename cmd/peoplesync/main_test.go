package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run the real binary: testscript puts a
// `peoplesync` on the scripts' PATH that runs main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"peoplesync": main})
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
