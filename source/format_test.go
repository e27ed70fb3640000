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

const rawAliases = `{
  "name" = ( "aliases" );
  CHILDREN = (
    {
      "name" = ( "staff" );
      "members" = ( "a", "Smith, Kim <ksmith@venus>" );
    }
  )
}
`

const rawUsers = `{ "name" = ( "users" ); CHILDREN = ( { "name" = ( "jnewberg" ); "uid" = ( "1001" ); "gid" = ( "20" ); "realname" = ( "Julia Newberg" ); "home" = ( "/Users/jnewberg" ); "shell" = ( "/bin/csh" ); "passwd" = ( "x" ); } ) }`

func TestCommandRaw(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "aliases"), []byte(rawAliases), 0o644)
	os.WriteFile(filepath.Join(dir, "users"), []byte(rawUsers), 0o644)
	c := source.Command{
		AliasesArgv: []string{"cat", filepath.Join(dir, "aliases")},
		PasswdArgv:  []string{"cat", filepath.Join(dir, "users")},
		Timeout:     time.Minute, Format: source.Raw,
	}
	var members []string
	err := c.Aliases(context.Background(), func(a nidump.Alias) error { members = append(members, a.Members...); return nil })
	if err != nil || strings.Join(members, "|") != "a|Smith, Kim <ksmith@venus>" {
		t.Errorf("members %q, %v", members, err)
	}
	var users []string
	err = c.Passwd(context.Background(), func(e nidump.PasswdEntry) error { users = append(users, e.String()); return nil })
	if err != nil || len(users) != 1 || users[0] != "jnewberg:x:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh" {
		t.Errorf("users %q, %v", users, err)
	}

	// A flat dump read as raw fails with the command's name and line.
	c.AliasesArgv = sh(`printf 'staff: a,b\n'`)
	err = c.Aliases(context.Background(), func(nidump.Alias) error { return nil })
	if err == nil || !strings.Contains(err.Error(), ":1: word \"staff:\": `nidump -r` output starts with '{'") {
		t.Errorf("flat dump read as raw: %v", err)
	}
}

func TestFilesRaw(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "aliases.raw")
	os.WriteFile(p, []byte(rawAliases), 0o644)
	got, err := collectAliases(t, source.Files{AliasesPath: p, Format: source.Raw})
	if err != nil || len(got) != 1 || got[0] != "staff: a,Smith, Kim <ksmith@venus>" {
		t.Errorf("got %q, %v", got, err)
	}
}
