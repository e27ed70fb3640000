package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

func collectAliases(t *testing.T, s source.Source) ([]string, error) {
	t.Helper()
	var out []string
	err := s.Aliases(context.Background(), func(a nidump.Alias) error {
		out = append(out, a.String())
		return nil
	})
	return out, err
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	p, a := filepath.Join(dir, "passwd"), filepath.Join(dir, "aliases")
	os.WriteFile(p, []byte("root:*:0:1:Operator:/:/bin/csh\n"), 0o644)
	os.WriteFile(a, []byte("staff: a,\n\tb\n"), 0o644)
	s := source.Files{PasswdPath: p, AliasesPath: a}
	got, err := collectAliases(t, s)
	if err != nil || len(got) != 1 || got[0] != "staff: a,b" {
		t.Errorf("aliases %q, %v", got, err)
	}
	var users []string
	if err := s.Passwd(context.Background(), func(e nidump.PasswdEntry) error { users = append(users, e.Name); return nil }); err != nil || len(users) != 1 {
		t.Errorf("passwd %q, %v", users, err)
	}
	_, err = collectAliases(t, source.Files{AliasesPath: filepath.Join(dir, "missing")})
	if err == nil || !strings.Contains(err.Error(), "missing: the file does not exist") {
		t.Errorf("missing file: %v", err)
	}
	_, err = collectAliases(t, source.Files{AliasesPath: dir})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestCommand(t *testing.T) {
	got, err := collectAliases(t, source.Command{AliasesArgv: sh(`printf 'staff: a,\n\tb\nx: y\n'`), Timeout: time.Minute})
	if err != nil || strings.Join(got, "|") != "staff: a,b|x: y" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestCommandFailureCarriesStderr(t *testing.T) {
	_, err := collectAliases(t, source.Command{AliasesArgv: sh(`echo 'nidump: can not open domain /mail' >&2; exit 3`), Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "nidump: can not open domain /mail") {
		t.Errorf("error = %v", err)
	}
}

func TestCommandParseErrorNamesCommand(t *testing.T) {
	_, err := collectAliases(t, source.Command{AliasesArgv: sh(`printf 'a: b\nbroken\n'; exec sleep 60`), Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "exec sleep 60:2: missing ':'") {
		t.Errorf("error = %v", err)
	}
}

func TestCommandTimeout(t *testing.T) {
	// A command that hangs without output, and ignores SIGTERM.
	c := source.Command{AliasesArgv: sh(`trap '' TERM; echo started >&2; while :; do sleep 1; done`), Timeout: 200 * time.Millisecond, Grace: 100 * time.Millisecond}
	_, err := collectAliases(t, c)
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") || !strings.Contains(err.Error(), "started") {
		t.Errorf("error = %v", err)
	}
}

func TestCommandNotFound(t *testing.T) {
	_, err := collectAliases(t, source.Command{AliasesArgv: []string{"/nonexistent/nidump", "aliases", "/"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/nidump") {
		t.Errorf("error = %v", err)
	}
}

func TestCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := source.Command{AliasesArgv: sh(`printf 'a: b\nc: d\n'; exec sleep 60`)}
	err := c.Aliases(ctx, func(nidump.Alias) error { cancel(); return nil })
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error = %v", err)
	}
}
