package config

import (
	"fmt"
	"net"
	"os/user"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SSH holds the defaults for connecting to every server.
type SSH struct {
	// User is the login on the servers (default: the user peoplesync runs as).
	User string
	// IdentityFile is a private key; keys from ssh-agent (SSH_AUTH_SOCK)
	// are used too.
	IdentityFile string
	// KnownHosts is always enforced (default /etc/peoplesync/known_hosts).
	KnownHosts     string
	ConnectTimeout time.Duration
	// IOTimeout fails a host that makes no progress this long.
	IOTimeout time.Duration
}

// Server is one mail server the People directory is copied to.
type Server struct {
	// Name is also a mail server name for alias stripping.
	Name string
	// Address is host:port (default: Name, port 22).
	Address string
	// Path is the People directory on the server.
	Path         string
	User         string // overrides [ssh] user
	IdentityFile string // overrides [ssh] identity_file
}

// Sync configures the rdist-style push.
type Sync struct {
	Parallel int
	// Compare is "mtime" (size+mtime+mode, the default) or "content".
	Compare   string
	Delete    bool
	MaxDelete int
	Exclude   []string
	// BWLimit is bytes per second per host; 0 for no limit.
	BWLimit  int64
	Specials []Special
}

// Special is a command run on a server after a matching file was installed
// or deleted there (rdist's special).
type Special struct {
	Match   string
	Command string
}

// Defaults for [ssh] and [sync].
const (
	DefaultKnownHosts     = "/etc/peoplesync/known_hosts"
	DefaultConnectTimeout = 10 * time.Second
	DefaultIOTimeout      = 60 * time.Second
	DefaultParallel       = 4
	DefaultMaxDelete      = 10
)

func (d *decoder) ssh(t table) SSH {
	s := SSH{KnownHosts: DefaultKnownHosts, ConnectTimeout: DefaultConnectTimeout, IOTimeout: DefaultIOTimeout}
	if u, err := user.Current(); err == nil {
		s.User = u.Username
	}
	d.str(t, "user", &s.User)
	d.path(t, "identity_file", &s.IdentityFile)
	d.path(t, "known_hosts", &s.KnownHosts)
	d.duration(t, "connect_timeout", &s.ConnectTimeout)
	d.duration(t, "io_timeout", &s.IOTimeout)
	return s
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

func (d *decoder) servers(ts []table) []Server {
	var out []Server
	seen := map[string]bool{}
	for _, t := range ts {
		var s Server
		if d.str(t, "name", &s.Name) {
			switch {
			case !hostLabel.MatchString(s.Name):
				d.problem(t.key("name"), "%q is not a host name: use the mail server's short name (letters, digits, '-'), e.g. \"venus\"", s.Name)
			case seen[strings.ToLower(s.Name)]:
				d.problem(t.key("name"), "%q names two servers: each [[server]] needs its own name", s.Name)
			}
			seen[strings.ToLower(s.Name)] = true
		} else {
			d.required(t, "name", `the mail server's short name, e.g. name = "venus"`)
		}
		if d.str(t, "address", &s.Address) {
			if _, port, err := net.SplitHostPort(s.Address); err != nil {
				if strings.Contains(err.Error(), "missing port") {
					s.Address = net.JoinHostPort(s.Address, "22")
				} else {
					d.problem(t.key("address"), "%q is not host:port: %v", s.Address, err)
				}
			} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				d.problem(t.key("address"), "%q: port %q is not a number from 1 to 65535", s.Address, port)
			}
		} else if s.Name != "" {
			s.Address = net.JoinHostPort(s.Name, "22")
		}
		if d.str(t, "path", &s.Path) {
			if !path.IsAbs(s.Path) || path.Clean(s.Path) == "/" {
				d.problem(t.key("path"), "%q must be an absolute directory on the server other than /, e.g. \"/LocalLibrary/Images/People\"", s.Path)
			}
			s.Path = path.Clean(s.Path)
		} else {
			d.required(t, "path", `the People directory on the server, e.g. path = "/LocalLibrary/Images/People"`)
		}
		d.str(t, "user", &s.User)
		d.path(t, "identity_file", &s.IdentityFile)
		out = append(out, s)
	}
	return out
}

func (d *decoder) syncSection(t table) Sync {
	s := Sync{Parallel: DefaultParallel, Compare: "mtime", MaxDelete: DefaultMaxDelete}
	d.integer(t, "parallel", &s.Parallel, 1, 64)
	d.oneOf(t, "compare", &s.Compare, "mtime", "content")
	d.boolean(t, "delete", &s.Delete)
	d.integer(t, "max_delete", &s.MaxDelete, 0, 1<<30)
	if d.strList(t, "exclude", &s.Exclude) {
		for _, g := range s.Exclude {
			if _, err := path.Match(g, ""); err != nil {
				d.problem(t.key("exclude"), "bad glob %q: %v", g, err)
			}
		}
	}
	var bw string
	if d.str(t, "bwlimit", &bw) {
		n, err := ParseBytes(bw)
		if err != nil || n <= 0 {
			d.problem(t.key("bwlimit"), "%q is not a rate: write bytes per second like \"256KiB\", \"1MiB\" or \"500K\"", bw)
		}
		s.BWLimit = n
	}
	for _, st := range d.tables(t, "special") {
		var sp Special
		if d.str(st, "match", &sp.Match) {
			if _, err := path.Match(sp.Match, ""); err != nil {
				d.problem(st.key("match"), "bad glob %q: %v", sp.Match, err)
			}
		} else {
			d.required(st, "match", `a glob on the relative path, e.g. match = "aliases"`)
		}
		if d.str(st, "command", &sp.Command) {
			if strings.TrimSpace(sp.Command) == "" {
				d.problem(st.key("command"), "empty command: e.g. command = \"newaliases\"")
			}
		} else {
			d.required(st, "command", `the shell command run on the server, e.g. command = "newaliases"`)
		}
		s.Specials = append(s.Specials, sp)
	}
	return s
}

// ParseBytes parses a byte count such as "256KiB", "1MiB", "500K", "2M" or
// "1024" (K, M and G are powers of 1024, like rsync's --bwlimit).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number in %q", s)
	}
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q in %q", unit, s)
	}
	return n * mult, nil
}
