package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/internal/ldapgen"
	"github.com/peoplesync/peoplesync/internal/testpeer"
	"github.com/peoplesync/peoplesync/jobs"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

// killing wraps a source and kills slapd when the aliases dump reaches its
// n-th entry: the server goes away in the middle of a paged search. The
// aliases dump starts when the passwd dump (run at the same time by the
// job) is done, so that it is the one the kill hits.
type killing struct {
	source.Source
	slapd      *testpeer.Slapd
	n          int
	passwdDone chan struct{}
}

func (k killing) Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error {
	defer close(k.passwdDone)
	return k.Source.Passwd(ctx, fn)
}

func (k killing) Aliases(ctx context.Context, fn func(nidump.Alias) error) error {
	select {
	case <-k.passwdDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	i := 0
	return k.Source.Aliases(ctx, func(a nidump.Alias) error {
		if i++; i == k.n {
			k.slapd.Kill()
		}
		return fn(a)
	})
}

// TestMailDBLDAPServerGoesAway: the maildb job reads from slapd, which is
// killed halfway through the aliases; the job fails naming the server, and
// the People directory keeps the files of the run before.
func TestMailDBLDAPServerGoesAway(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: 2000, Aliases: 2000}.WriteLDIF})
	src := source.LDAP{
		URL: s.URL, BindDN: testpeer.SlapdReaderDN, BindPasswordFile: s.ReaderPasswordFile,
		UsersBase: ldapgen.PeopleDN, AliasesBase: ldapgen.AliasesDN,
		PageSize: 100, Retries: 2, RetryBackoff: time.Millisecond,
	}
	people := filepath.Join(t.TempDir(), "People")
	job := &jobs.MailDB{Source: src, Dir: people, Strip: aliasfmt.Options{MailServers: []string{"earth"}}, RedactPasswords: true, MaxShrink: 0.5}
	if _, err := job.Run(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, name := range []string{"passwd", "aliases"} {
		b, err := os.ReadFile(filepath.Join(people, name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = b
	}
	if n := strings.Count(string(before["passwd"]), "\n"); n != 2000 {
		t.Fatalf("passwd has %d lines, want 2000", n)
	}

	job.Source = killing{Source: src, slapd: s, n: 1000, passwdDone: make(chan struct{})}
	_, err := job.Run(context.Background(), quiet)
	if err == nil {
		t.Fatal("the job succeeded with slapd killed")
	}
	msg := err.Error()
	for _, want := range []string{"dump aliases: " + s.URL + ": the connection was lost during the aliases search after ", "(nothing was installed)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	for name, b := range before {
		after, err := os.ReadFile(filepath.Join(people, name))
		if err != nil || string(after) != string(b) {
			t.Errorf("%s changed (or is gone: %v)", name, err)
		}
	}
	entries, _ := os.ReadDir(people)
	for _, e := range entries {
		if e.Name() != "passwd" && e.Name() != "aliases" {
			t.Errorf("left behind in People: %s", e.Name())
		}
	}
}
