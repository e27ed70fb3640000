// Package config reads peoplesync's TOML configuration strictly: unknown
// keys, wrong types, missing required keys and impossible values are all
// reported at once, each with the file, line and key and how to fix it.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
)

// DefaultPath is where the config is read from when neither --config nor
// $PEOPLESYNC_CONFIG names one.
const DefaultPath = "/etc/peoplesync/peoplesync.toml"

// Config is the whole configuration.
type Config struct {
	// File is the path the config was read from.
	File   string
	Source Source
	People People

	SSH     SSH
	Servers []Server
	Sync    Sync

	// StateDir keeps run history and locks.
	StateDir string
	// Jobs in config order; the built-in maildb and sync when the config
	// has no [jobs] table.
	Jobs    []Job
	Daemon  Daemon
	Metrics Metrics
}

// Source says where the mail domain's passwd and aliases come from.
type Source struct {
	// Kind is "files", "command" or "ldap".
	Kind string
	// Passwd and Aliases are the dump files (Kind "files").
	Passwd  string
	Aliases string
	// PasswdCommand and AliasesCommand are argv lists whose standard output
	// is the dump (Kind "command"), e.g. ["nidump", "aliases", "/mail"].
	PasswdCommand  []string
	AliasesCommand []string
	// Timeout bounds each command, or each LDAP search (default 5m).
	Timeout time.Duration
	// Format is the files' or commands' form: "" or "nidump" for nidump
	// passwd/aliases output, "raw" for `nidump -r` output.
	Format string
	// LDAP is the directory (Kind "ldap"), else nil.
	LDAP *LDAP
}

// People describes the People directory (/LocalLibrary/Images/People).
type People struct {
	Dir string
	// MailServers are the host names whose routing aliases are stripped.
	MailServers []string
	// StripMode is aliasfmt.Routing (default) or aliasfmt.Grep.
	StripMode aliasfmt.Mode
	// RedactPasswords replaces the passwd hash field with "*" (default true).
	RedactPasswords bool
	// MaxShrink refuses a dump with fewer than (1-MaxShrink) times the
	// installed file's entries (default 0.5).
	MaxShrink float64
	// Pictures, when set, is a directory of *.tiff pictures mirrored into Dir.
	Pictures string
	// PrunePictures removes pictures from Dir that Pictures no longer has.
	PrunePictures bool
}

// Defaults for optional keys.
const (
	DefaultCommandTimeout = 5 * time.Minute
	DefaultMaxShrink      = 0.5
)

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &Error{Problems: []Problem{{File: path, Msg: "config file not found: create it (see examples/peoplesync.toml), or name another with --config or $PEOPLESYNC_CONFIG"}}}
		}
		return nil, &Error{Problems: []Problem{{File: path, Msg: err.Error()}}}
	}
	return Parse(path, data)
}

// Parse validates a config document; path names it in errors and anchors
// relative paths.
func Parse(path string, data []byte) (*Config, error) {
	d, root, err := newDecoder(path, data)
	if err != nil {
		return nil, err
	}
	c := &Config{File: path}
	c.Source = d.source(d.sub(root, "source"))
	c.People = d.people(d.sub(root, "people"))
	c.SSH = d.ssh(d.sub(root, "ssh"))
	c.Servers = d.servers(d.tables(root, "server"))
	c.Sync = d.syncSection(d.sub(root, "sync"))
	c.StateDir = DefaultStateDir
	d.path(root, "state_dir", &c.StateDir)
	c.Jobs = d.jobs(root)
	c.Daemon = d.daemon(d.sub(root, "daemon"))
	c.Metrics = d.metrics(d.sub(root, "metrics"))
	if c.People.MailServers == nil {
		for _, s := range c.Servers {
			c.People.MailServers = append(c.People.MailServers, s.Name)
		}
	}
	d.unknown(root)
	if len(d.probs) > 0 {
		sort.SliceStable(d.probs, func(i, j int) bool { return d.probs[i].Line < d.probs[j].Line })
		return nil, &Error{Problems: d.probs}
	}
	return c, nil
}

func (d *decoder) source(t table) Source {
	s := Source{Timeout: DefaultCommandTimeout}
	if t.m == nil {
		d.required(table{}, "source", `add a [source] table with kind = "files", "command" or "ldap"`)
		return s
	}
	if !d.oneOf(t, "kind", &s.Kind, "files", "command", "ldap") {
		d.required(t, "kind", `kind = "files" (dump files), kind = "command" (run nidump) or kind = "ldap" (a directory server)`)
	}
	hasP := d.path(t, "passwd", &s.Passwd)
	hasA := d.path(t, "aliases", &s.Aliases)
	hasPC := d.argv(t, "passwd_command", &s.PasswdCommand)
	hasAC := d.argv(t, "aliases_command", &s.AliasesCommand)
	d.duration(t, "timeout", &s.Timeout)
	d.oneOf(t, "format", &s.Format, "nidump", "raw")
	s.LDAP = d.ldapSource(t, s.Kind)
	switch s.Kind {
	case "files":
		if !hasP {
			d.required(t, "passwd", `the file holding "nidump passwd" output, e.g. passwd = "/var/peoplesync/passwd"`)
		}
		if !hasA {
			d.required(t, "aliases", `the file holding "nidump aliases" output or an aliases(5) file`)
		}
		for _, k := range []string{"passwd_command", "aliases_command"} {
			if _, ok := t.m[k]; ok {
				d.problem(t.key(k), `only used with kind = "command": remove it, or set kind = "command"`)
			}
		}
	case "command":
		if !hasPC {
			d.required(t, "passwd_command", `an argv list, e.g. passwd_command = ["nidump", "passwd", "/mail"]`)
		}
		if !hasAC {
			d.required(t, "aliases_command", `an argv list, e.g. aliases_command = ["nidump", "aliases", "/mail"]`)
		}
		for _, k := range []string{"passwd", "aliases"} {
			if _, ok := t.m[k]; ok {
				d.problem(t.key(k), `only used with kind = "files": remove it, or set kind = "files"`)
			}
		}
	}
	return s
}

func (d *decoder) argv(t table, key string, dst *[]string) bool {
	if !d.strList(t, key, dst) {
		return false
	}
	if len(*dst) == 0 || strings.TrimSpace((*dst)[0]) == "" {
		d.problem(t.key(key), `empty command: give the program and its arguments, e.g. ["nidump", "aliases", "/mail"]`)
		return false
	}
	return true
}

func (d *decoder) people(t table) People {
	p := People{RedactPasswords: true, MaxShrink: DefaultMaxShrink, StripMode: aliasfmt.Routing}
	if t.m == nil {
		d.required(table{}, "people", `add a [people] table with dir = "/LocalLibrary/Images/People"`)
		return p
	}
	if !d.path(t, "dir", &p.Dir) {
		d.required(t, "dir", `the People directory, e.g. dir = "/LocalLibrary/Images/People"`)
	}
	if d.strList(t, "mail_servers", &p.MailServers) {
		if _, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: p.MailServers}); err != nil {
			d.problem(t.key("mail_servers"), "%v: list host names like \"earth\" or \"earth.example.com\"", err)
		}
	}
	var mode string
	if d.oneOf(t, "strip_mode", &mode, string(aliasfmt.Routing), string(aliasfmt.Grep)) {
		p.StripMode = aliasfmt.Mode(mode)
	}
	d.boolean(t, "redact_passwords", &p.RedactPasswords)
	d.fraction(t, "max_shrink", &p.MaxShrink)
	if d.path(t, "pictures", &p.Pictures) && p.Pictures == p.Dir {
		d.problem(t.key("pictures"), "is the People directory itself: name the master pictures directory")
	}
	if d.boolean(t, "prune_pictures", &p.PrunePictures) && p.PrunePictures && p.Pictures == "" {
		d.problem(t.key("prune_pictures"), "needs pictures = DIR: there is nothing to prune against")
	}
	return p
}

// String summarizes where the source reads from, for logs.
func (s Source) String() string {
	switch s.Kind {
	case "files":
		return fmt.Sprintf("files passwd=%s aliases=%s", s.Passwd, s.Aliases)
	case "command":
		return fmt.Sprintf("command passwd=%q aliases=%q", s.PasswdCommand, s.AliasesCommand)
	case "ldap":
		return fmt.Sprintf("ldap %s domain %s", s.LDAP.URL, s.LDAP.Domain)
	}
	return s.Kind
}
