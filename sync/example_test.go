package sync_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/peoplesync/peoplesync/internal/sftpserver"
	fssync "github.com/peoplesync/peoplesync/sync"
)

// Example pushes a People directory to two in-process SFTP servers, as
// `make demo` does, then shows that a second run sends nothing.
func Example() {
	dir, _ := os.MkdirTemp("", "peoplesync-example-")
	defer os.RemoveAll(dir)
	people := filepath.Join(dir, "People")
	os.Mkdir(people, 0o755)
	os.WriteFile(filepath.Join(people, "aliases"), []byte("postmaster: root\n"), 0o644)
	os.WriteFile(filepath.Join(people, "passwd"), []byte("alice:*:501:20::/Users/alice:/bin/sh\n"), 0o644)

	// One client key and one known_hosts file for every server.
	key := filepath.Join(dir, "id_ed25519")
	pub, _ := sftpserver.WriteKey(key)
	knownHosts, _ := os.Create(filepath.Join(dir, "known_hosts"))
	var hosts []fssync.Host
	for _, name := range []string{"venus", "mars"} {
		root := filepath.Join(dir, name)
		os.Mkdir(root, 0o755)
		srv, err := sftpserver.Start(sftpserver.Config{Root: root, AuthorizedKeys: []ssh.PublicKey{pub}})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer srv.Close()
		fmt.Fprintln(knownHosts, srv.KnownHostsLine())
		// The path is the server's own: the served root or below.
		hosts = append(hosts, fssync.Host{Name: name, Address: srv.Addr(), Path: filepath.Join(srv.Root(), "People")})
	}
	knownHosts.Close()

	opts := fssync.Options{
		SSH:      fssync.SSHOptions{User: "peoplesync", IdentityFile: key, KnownHosts: knownHosts.Name()},
		Parallel: 1, // for a stable output order
		Specials: []fssync.Special{{Match: "aliases", Command: "echo rebuilt $FILES"}},
		Itemize:  os.Stdout,
	}
	log := slog.New(slog.DiscardHandler)
	rep, err := fssync.Run(context.Background(), people, hosts, opts, log)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("venus: %d files sent, special said %q\n", rep.Hosts[0].FilesSent(), rep.Hosts[0].Specials[0].Output)

	rep, _ = fssync.Run(context.Background(), people, hosts, opts, log)
	fmt.Printf("second run: %d and %d files sent\n", rep.Hosts[0].FilesSent(), rep.Hosts[1].FilesSent())
	// Output:
	// venus: cd+++++++++ ./
	// venus: >f+++++++++ aliases
	// venus: >f+++++++++ passwd
	// venus: !special    echo rebuilt $FILES FILES=aliases
	// mars: cd+++++++++ ./
	// mars: >f+++++++++ aliases
	// mars: >f+++++++++ passwd
	// mars: !special    echo rebuilt $FILES FILES=aliases
	// venus: 2 files sent, special said "rebuilt aliases\n"
	// second run: 0 and 0 files sent
}
