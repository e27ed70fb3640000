package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/peoplesync/peoplesync/config"
	"github.com/peoplesync/peoplesync/examples"
	"github.com/peoplesync/peoplesync/internal/sftpserver"
)

// demoMarker marks a directory the demo made, so it may reset it.
const demoMarker = ".peoplesync-demo"

func (a *app) demoCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR]",
		Short: "Run the whole pipeline on a bundled example domain, with two in-process mail servers",
		Long: `demo runs maildb and then sync on the example domain bundled in the binary:
the People directory is built in DIR/People, and copied over SFTP to two mail
servers ("earth" and "venus") that the demo starts in-process on loopback,
serving DIR/servers/NAME, with their own host keys and known_hosts. It runs the
pipeline twice: the second run finds nothing to send. Nothing needs to be
installed, and nothing outside DIR is touched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "demo", "scratch `DIR` for the demo (reset when it holds an earlier demo)")
	return cmd
}

func (a *app) demo(cmd *cobra.Command, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := resetDemoDir(dir); err != nil {
		return err
	}
	// The example domain, from the binary.
	domain := filepath.Join(dir, "domain")
	if err := os.CopyFS(domain, mustSub(examples.Domain, "domain")); err != nil {
		return failed(fmt.Errorf("write the example domain: %w", err))
	}
	key := filepath.Join(dir, "ssh", "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		return failed(err)
	}
	pub, err := sftpserver.WriteKey(key)
	if err != nil {
		return failed(fmt.Errorf("client key: %w", err))
	}
	var knownHosts, servers strings.Builder
	for _, name := range []string{"earth", "venus"} {
		root := filepath.Join(dir, "servers", name)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return failed(err)
		}
		srv, err := sftpserver.Start(sftpserver.Config{Root: root, AuthorizedKeys: []ssh.PublicKey{pub}})
		if err != nil {
			return failed(fmt.Errorf("start the %s server: %w", name, err))
		}
		defer srv.Close()
		fmt.Fprintln(&knownHosts, srv.KnownHostsLine())
		fmt.Fprintf(&servers, "\n[[server]]\nname = %q\naddress = %q\npath = %q\n", name, srv.Addr(), filepath.Join(srv.Root(), "LocalLibrary/Images/People"))
		fmt.Fprintf(a.stdout, "started mail server %s: SFTP on %s, serving %s\n", name, srv.Addr(), root)
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh", "known_hosts"), []byte(knownHosts.String()), 0o644); err != nil {
		return failed(err)
	}
	cfgPath := filepath.Join(dir, "peoplesync.toml")
	cfg := fmt.Sprintf(`# Written by peoplesync demo; valid while the demo's servers run.
state_dir = "state"

[source]
kind = "files"
passwd = "domain/passwd"
aliases = "domain/aliases"

[people]
dir = "People"
pictures = "domain/pictures"
# mail_servers defaults to the [[server]] names: earth, venus

[ssh]
user = "peoplesync"
identity_file = "ssh/id_ed25519"
known_hosts = "ssh/known_hosts"
connect_timeout = "5s"
io_timeout = "30s"
%s
[sync]
parallel = 2

[[sync.special]]
match = "aliases"
command = "echo newaliases: would rebuild the alias database from $FILES"
`, servers.String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return failed(err)
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "config: %s\n\n== first run: maildb, then sync to earth and venus ==\n", cfgPath)
	if err := a.runJobs(cmd, c, nil, jobEnv{}, false); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\n== second run: nothing changed, so nothing is sent and no special runs ==\n")
	if err := a.runJobs(cmd, c, nil, jobEnv{}, false); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\n== on the mail servers ==\n")
	for _, s := range c.Servers {
		files, err := listFiles(s.Path)
		if err != nil {
			return failed(err)
		}
		fmt.Fprintf(a.stdout, "%s:%s: %s\n", s.Name, s.Path, strings.Join(files, " "))
	}
	return nil
}

// resetDemoDir empties dir if an earlier demo made it, and creates it.
// A directory the demo did not make is never emptied.
func resetDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("--dir %s is not empty and was not made by the demo: name another directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return failed(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failed(err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), nil, 0o644)
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
