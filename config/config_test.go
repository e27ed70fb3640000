package config_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/config"
)

func TestParseGood(t *testing.T) {
	c, err := config.Parse("/etc/peoplesync/peoplesync.toml", []byte(`
[source]
kind = "command"
passwd_command = ["nidump", "passwd", "/mail"]
aliases_command = ["ssh", "niserver", "nidump", "aliases", "/mail"]
timeout = "90s"

[people]
dir = "/LocalLibrary/Images/People"
mail_servers = ["earth", "venus"]
strip_mode = "grep"
max_shrink = 0.25
pictures = "pictures"
prune_pictures = true
`))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		File: "/etc/peoplesync/peoplesync.toml",
		Source: config.Source{Kind: "command", PasswdCommand: []string{"nidump", "passwd", "/mail"},
			AliasesCommand: []string{"ssh", "niserver", "nidump", "aliases", "/mail"}, Timeout: 90 * time.Second},
		People: config.People{Dir: "/LocalLibrary/Images/People", MailServers: []string{"earth", "venus"},
			StripMode: aliasfmt.Grep, RedactPasswords: true, MaxShrink: 0.25,
			Pictures: "/etc/peoplesync/pictures", PrunePictures: true},
	}
	if !reflect.DeepEqual(c.Source, want.Source) || !reflect.DeepEqual(c.People, want.People) || c.File != want.File {
		t.Errorf("got  %+v\nwant %+v", *c, want)
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Parse("/x/p.toml", []byte("[source]\nkind = \"files\"\npasswd = \"p\"\naliases = \"/a\"\n[people]\ndir = \"/People\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.People.RedactPasswords || c.People.MaxShrink != 0.5 || c.People.StripMode != aliasfmt.Routing || c.Source.Timeout != 5*time.Minute {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Source.Passwd != filepath.FromSlash("/x/p") {
		t.Errorf("relative path not resolved against the config's directory: %q", c.Source.Passwd)
	}
}

// Every problem is reported at once, each with file, line and key.
func TestAllProblemsAtOnce(t *testing.T) {
	doc := `[source]
kind = "files"
passwd = 42
aliasess = "/a"

[people]
dir = "/People"
max_shrink = 1.5
redact_passwords = "yes"
strip_mode = "sed"
mail_servers = ["earth", "bad host"]
prune_pictures = true
colour = "blue"

[peoples]
x = 1
`
	_, err := config.Parse("p.toml", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`p.toml:3: source.passwd: want a string`,
		`p.toml:1: source.aliases: required key is missing`,
		`p.toml:4: source.aliasess: unknown key: did you mean "aliases"?`,
		`p.toml:8: people.max_shrink: 1.5 is out of range`,
		`p.toml:9: people.redact_passwords: want true or false`,
		`p.toml:10: people.strip_mode: "sed" is not one of "routing" or "grep"`,
		`p.toml:11: people.mail_servers: mail server name "bad host" is not a host name`,
		`p.toml:12: people.prune_pictures: needs pictures = DIR`,
		`p.toml:13: people.colour: unknown key`,
		`p.toml:15: peoples: unknown key: did you mean "people"?`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if !config.IsConfigError(err) {
		t.Errorf("%T is not a config error", err)
	}
	if n := len(err.(*config.Error).Problems); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), msg)
	}
}

func TestMissingTables(t *testing.T) {
	_, err := config.Parse("p.toml", []byte(""))
	if err == nil || !strings.Contains(err.Error(), "source: required key is missing") || !strings.Contains(err.Error(), "people: required key is missing") {
		t.Errorf("error = %v", err)
	}
}

func TestCommandSource(t *testing.T) {
	_, err := config.Parse("p.toml", []byte("[source]\nkind = \"command\"\npasswd_command = []\npasswd = \"/x\"\ntimeout = \"soon\"\n[people]\ndir = \"/P\"\n"))
	for _, w := range []string{
		"p.toml:3: source.passwd_command: empty command",
		"source.aliases_command: required key is missing",
		`p.toml:4: source.passwd: only used with kind = "files"`,
		`p.toml:5: source.timeout: "soon" is not a duration`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	_, err := config.Parse("p.toml", []byte("[source]\nkind = \"files\nx\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "p.toml:2: ") {
		t.Errorf("error = %v, want it to start with p.toml:2", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "config file not found") || !config.IsConfigError(err) {
		t.Errorf("error = %v", err)
	}
}
