package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/peoplesync/peoplesync/internal/ldapgen"
	"github.com/peoplesync/peoplesync/internal/testpeer"
	"github.com/peoplesync/peoplesync/nidump"
	"github.com/peoplesync/peoplesync/source"
)

// smallLDIF is a directory with the odd cases spelled out.
func smallLDIF(w io.Writer) error {
	var b []byte
	users := []ldapgen.User{
		{UID: "root", CN: "Operator", Gecos: "Operator", Password: "{CRYPT}*", UIDNumber: 0, GIDNumber: 1, Home: "/", Shell: "/bin/csh"},
		{UID: "jnewberg", CN: "Julia Newberg", Gecos: "Julia Newberg", Password: "{crypt}$1$abc$def", UIDNumber: 1001, GIDNumber: 20, Home: "/Users/jnewberg", Shell: "/bin/csh"},
		// Non-ASCII real name (in cn: gecos is IA5, ASCII only), another
		// password scheme, no shell.
		{UID: "zoe", CN: "Zoë Müller-Łukasz", Password: "{SSHA}c2VjcmV0c2FsdA==", UIDNumber: 1002, GIDNumber: 20, Home: "/Users/zoe"},
	}
	for _, u := range users {
		b = ldapgen.AppendUser(b, ldapgen.PeopleDN, u)
	}
	// A second uid value: the RDN's is the login name.
	b = append(b, "dn: uid=ksmith,"+ldapgen.PeopleDN+"\nobjectClass: account\nobjectClass: posixAccount\nuid: kim\nuid: ksmith\ncn: Kim Smith\ndescription: Kim Smith (Sales)\nuidNumber: 1003\ngidNumber: 30\nhomeDirectory: /Users/ksmith\n\n"...)
	big := make([]string, 500)
	for i := range big {
		big[i] = fmt.Sprintf("member%03d@partner.example.org", i)
	}
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "jnewberg", []string{"jnewberg@earth"})
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "everyone", big)
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "staff", []string{"jnewberg", "Smith, Kim <ksmith@venus>", `"|/usr/bin/filter a,b"`, `\root`})
	b = ldapgen.AppendAlias(b, ldapgen.AliasesDN, "Zoë Müller", []string{"zoe"})
	// No members: skipped, as nidump skips it.
	b = append(b, "dn: cn=empty,"+ldapgen.AliasesDN+"\nobjectClass: nisMailAlias\ncn: empty\n\n"...)
	// The /mail domain's own containers.
	b = append(b, "dn: ou=mail,dc=example,dc=org\nobjectClass: organizationalUnit\nou: mail\n\n"...)
	b = append(b, "dn: ou=aliases,ou=mail,dc=example,dc=org\nobjectClass: organizationalUnit\nou: aliases\n\n"...)
	b = ldapgen.AppendAlias(b, "ou=aliases,ou=mail,dc=example,dc=org", "postmaster", []string{"root"})
	_, err := w.Write(b)
	return err
}

func ldapSource(s *testpeer.Slapd) source.LDAP {
	return source.LDAP{
		URL: s.URL, BindDN: testpeer.SlapdReaderDN, BindPasswordFile: s.ReaderPasswordFile,
		UsersBase: ldapgen.PeopleDN, AliasesBase: ldapgen.AliasesDN,
		Retries: -1, ConnectTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second,
	}
}

func ldapUsers(t *testing.T, src source.Source) ([]string, error) {
	t.Helper()
	var out []string
	err := src.Passwd(context.Background(), func(e nidump.PasswdEntry) error {
		out = append(out, e.String())
		return nil
	})
	return out, err
}

func ldapAliases(t *testing.T, src source.Source) ([]nidump.Alias, error) {
	t.Helper()
	var out []nidump.Alias
	err := src.Aliases(context.Background(), func(a nidump.Alias) error {
		out = append(out, a)
		return nil
	})
	return out, err
}

func TestLDAP(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: smallLDIF})
	src := ldapSource(s)

	t.Run("users", func(t *testing.T) {
		got, err := ldapUsers(t, src)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"root:*:0:1::0:0:Operator:/:/bin/csh",
			"jnewberg:$1$abc$def:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh",
			"zoe:*:1002:20::0:0:Zoë Müller-Łukasz:/Users/zoe:",
			"ksmith:*:1003:30::0:0:Kim Smith:/Users/ksmith:",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})

	t.Run("aliases", func(t *testing.T) {
		got, err := ldapAliases(t, src)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range got {
			names = append(names, fmt.Sprintf("%s/%d", a.Name, len(a.Members)))
		}
		if want := "jnewberg/1 everyone/500 staff/4 Zoë Müller/1"; strings.Join(names, " ") != want {
			t.Fatalf("aliases %q, want %q", strings.Join(names, " "), want)
		}
		for i, m := range got[1].Members {
			if want := fmt.Sprintf("member%03d@partner.example.org", i); m != want {
				t.Fatalf("everyone member %d = %q, want %q", i, m, want)
			}
		}
		// Every member exactly, commas, quotes and backslash included.
		if want := []string{"jnewberg", "Smith, Kim <ksmith@venus>", `"|/usr/bin/filter a,b"`, `\root`}; !reflect.DeepEqual(got[2].Members, want) {
			t.Errorf("staff members %q, want %q", got[2].Members, want)
		}
	})

	t.Run("another domain's base", func(t *testing.T) {
		mail := src
		mail.Domain, mail.AliasesBase = "/mail", "ou=aliases,ou=mail,dc=example,dc=org"
		got, err := ldapAliases(t, mail)
		if err != nil || len(got) != 1 || got[0].String() != "postmaster: root" {
			t.Errorf("got %v, %v", got, err)
		}
	})

	t.Run("7 fields and an attribute mapping", func(t *testing.T) {
		m := src
		m.PasswdForm = nidump.Form7
		m.Attributes.Gecos = "description"
		got, err := ldapUsers(t, m)
		if err != nil {
			t.Fatal(err)
		}
		if want := "ksmith:*:1003:30:Kim Smith (Sales):/Users/ksmith:"; got[3] != want {
			t.Errorf("got %q, want %q", got[3], want)
		}
		if want := "root:*:0:1:Operator:/:/bin/csh"; got[0] != want {
			t.Errorf("got %q, want %q (cn when there is no description)", got[0], want)
		}
	})

	t.Run("filter", func(t *testing.T) {
		f := src
		f.UsersFilter = "(&(objectClass=posixAccount)(gidNumber=20))"
		got, err := ldapUsers(t, f)
		if err != nil || len(got) != 2 {
			t.Errorf("got %q, %v", got, err)
		}
	})

	t.Run("skip passwords", func(t *testing.T) {
		// The hashes are not even asked for: the request names no
		// password attribute, and every password field is "*".
		px := newProxy(t, s.URL)
		k := src
		k.URL, k.SkipPasswords = px.URL(), true
		got, err := ldapUsers(t, k)
		if err != nil || len(got) != 4 || got[1] != "jnewberg:*:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh" {
			t.Errorf("got %q, %v", got, err)
		}
		sent := px.Sent()
		if !bytes.Contains(sent, []byte("homeDirectory")) || bytes.Contains(bytes.ToLower(sent), []byte("userpassword")) {
			t.Errorf("the search asked for the password attribute (or the capture is empty): %q", sent)
		}
	})

	t.Run("anonymous bind reads no password", func(t *testing.T) {
		a := src
		a.BindDN, a.BindPasswordFile = "", ""
		got, err := ldapUsers(t, a)
		if err != nil || len(got) != 4 || !strings.HasPrefix(got[1], "jnewberg:*:") {
			t.Errorf("got %q, %v", got, err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("not-the-Password-7\n"), 0o600)
		w := src
		w.BindPasswordFile = pw
		w.Retries = 3 // a wrong password is not retried
		_, err := ldapUsers(t, w)
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		for _, want := range []string{s.URL, "bind as " + testpeer.SlapdReaderDN, "invalid credentials", "check [source] bind_dn and the password in " + pw} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
		}
		if strings.Contains(msg, "not-the-Password-7") || strings.Contains(msg, "reconnect") {
			t.Errorf("error %q holds the password or was retried", msg)
		}
	})

	t.Run("world-readable password file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte(testpeer.SlapdReaderPW), 0o644)
		os.Chmod(pw, 0o644)
		w := src
		w.BindPasswordFile = pw
		_, err := ldapUsers(t, w)
		if err == nil || !strings.Contains(err.Error(), "may be read or changed by everyone (mode 0644): run chmod o-rwx "+pw) {
			t.Errorf("error %v", err)
		}
	})

	t.Run("missing base", func(t *testing.T) {
		b := src
		b.UsersBase = "ou=nobody,dc=example,dc=org"
		_, err := ldapUsers(t, b)
		if err == nil || !strings.Contains(err.Error(), `the base "ou=nobody,dc=example,dc=org" does not exist: check [source] users_base`) {
			t.Errorf("error %v", err)
		}
	})

	t.Run("callback error stops the search", func(t *testing.T) {
		stop := errors.New("disk full")
		n := 0
		err := src.Aliases(context.Background(), func(nidump.Alias) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("error %v after %d calls", err, n)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := src.Aliases(ctx, func(nidump.Alias) error { cancel(); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	})
}

// TestLDAPSizeLimit: without a limits line for the bind DN slapd stops a
// search at 500 entries, paged or not; the error says what to change.
func TestLDAPSizeLimit(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: 600}.WriteLDIF})
	src := ldapSource(s)
	src.BindDN, src.BindPasswordFile = "", ""
	_, err := ldapUsers(t, src)
	if err == nil || !strings.Contains(err.Error(), "the server's size limit stopped the users search after 500 entries: let the anonymous bind read them all") {
		t.Errorf("error %v", err)
	}
}

// TestLDAPLargeDirectory dumps 50,000 users and 50,000 aliases and checks
// that memory stays bounded: the live heap, sampled every 1,000 entries,
// never grows by more than a small fraction of what holding the entries
// would take. (go-ldap's SearchWithPaging, which collects every entry
// first, holds over 300 MB for the 50,000 users alone.)
func TestLDAPLargeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 100,000-entry directory")
	}
	const n = 50_000
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: n, Aliases: n}.WriteLDIF})
	src := ldapSource(s)
	src.PageSize = 1000

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	sample := func(i int) {
		if i%1000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	users, aliases := 0, 0
	var bytes int
	err := src.Passwd(context.Background(), func(e nidump.PasswdEntry) error {
		if want := ldapgen.Name(users); e.Name != want {
			return fmt.Errorf("user %d is %s, want %s", users, e.Name, want)
		}
		users++
		bytes += len(e.String())
		sample(users)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Aliases(context.Background(), func(a nidump.Alias) error {
		aliases++
		bytes += len(a.String())
		sample(aliases)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if users != n || aliases != n {
		t.Fatalf("%d users and %d aliases, want %d of each", users, aliases, n)
	}
	growth := int64(peak) - int64(base)
	t.Logf("%d users and %d aliases (%.1f MB as text); heap %.1f MB before, peak %.1f MB (+%.1f MB)",
		users, aliases, float64(bytes)/1e6, float64(base)/1e6, float64(peak)/1e6, float64(growth)/1e6)
	// The entries as text alone are ~7 MB; as go-ldap entries many times
	// that. The bound leaves room for the garbage collector's slack.
	const limit = 48 << 20
	if growth > limit {
		t.Errorf("the heap grew by %.1f MB while dumping, more than %d MB: the dump is not streamed", float64(growth)/1e6, limit>>20)
	}
}

// proxy forwards TCP connections to a server and can cut them, or freeze
// the server's answers, on demand.
type proxy struct {
	ln      net.Listener
	target  string
	done    chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
	frozen  bool
	accepts int
	sent    []byte // what clients sent
	wg      sync.WaitGroup
}

// Write records what clients send.
func (p *proxy) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, b...)
	return len(b), nil
}

// Sent returns what clients sent so far.
func (p *proxy) Sent() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: strings.TrimPrefix(target, "ldap://"), done: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) URL() string { return "ldap://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.accepts++
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, io.TeeReader(c, p)); s.Close() }()
		go func() { defer p.wg.Done(); p.answers(c, s); c.Close() }()
	}
}

// answers copies the server's answers to the client until the proxy is
// frozen, then swallows them.
func (p *proxy) answers(c, s net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			p.mu.Lock()
			frozen := p.frozen
			p.mu.Unlock()
			if frozen {
				<-p.done
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection open now.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// freeze stops passing the server's answers on, leaving the connections
// open: to the client, the server has stopped answering.
func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *proxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

func (p *proxy) close() {
	close(p.done)
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// TestLDAPReconnect drops the connection in the middle of a paged search:
// the source reconnects, searches again, skips what it handed on already,
// and every user arrives exactly once, in order.
func TestLDAPReconnect(t *testing.T) {
	const n = 3000
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: n}.WriteLDIF})
	p := newProxy(t, s.URL)
	src := ldapSource(s)
	src.URL, src.PageSize, src.Retries, src.RetryBackoff = p.URL(), 100, 2, time.Millisecond

	i := 0
	err := src.Passwd(context.Background(), func(e nidump.PasswdEntry) error {
		if want := ldapgen.Name(i); e.Name != want {
			return fmt.Errorf("entry %d is %s, want %s", i, e.Name, want)
		}
		if i++; i == 1234 {
			p.cut()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != n || p.connections() != 2 {
		t.Errorf("%d users over %d connections, want %d over 2", i, p.connections(), n)
	}
}

// TestLDAPReconnectDirectoryChanged: when entries already handed on are
// gone after the reconnect, the search fails rather than skip the wrong
// ones.
func TestLDAPReconnectDirectoryChanged(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: 1000}.WriteLDIF})
	p := newProxy(t, s.URL)
	src := ldapSource(s)
	src.URL, src.PageSize, src.Retries, src.RetryBackoff = p.URL(), 100, 2, time.Millisecond
	i := 0
	err := src.Passwd(context.Background(), func(e nidump.PasswdEntry) error {
		if i++; i == 500 {
			del(t, s, "uid="+ldapgen.Name(10)+","+ldapgen.PeopleDN)
			p.cut()
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "the directory changed meanwhile; run again") || !strings.Contains(err.Error(), "after 500 entries") {
		t.Errorf("error %v", err)
	}
}

func del(t *testing.T, s *testpeer.Slapd, dn string) {
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(testpeer.SlapdRootDN, testpeer.SlapdRootPW); err != nil {
		t.Fatal(err)
	}
	if err := l.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatal(err)
	}
}

// TestLDAPServerGoesAway kills slapd in the middle of a paged search: the
// reconnects fail and the error names the server and says how far it got.
func TestLDAPServerGoesAway(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: 2000}.WriteLDIF})
	src := ldapSource(s)
	src.PageSize, src.Retries, src.RetryBackoff = 100, 2, time.Millisecond
	i := 0
	err := src.Passwd(context.Background(), func(nidump.PasswdEntry) error {
		if i++; i == 1000 {
			s.Kill()
		}
		return nil
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{s.URL + ": the connection was lost during the users search after ", "reconnecting failed 2 times", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// TestLDAPRequestTimeout: a server that stops answering is given up on
// after RequestTimeout during a search, and after ConnectTimeout during the
// bind.
func TestLDAPRequestTimeout(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: 300}.WriteLDIF})

	p := newProxy(t, s.URL)
	src := ldapSource(s)
	src.URL, src.PageSize, src.RequestTimeout = p.URL(), 50, 200*time.Millisecond
	i := 0
	err := src.Passwd(context.Background(), func(nidump.PasswdEntry) error {
		if i++; i == 120 {
			p.freeze()
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), p.URL()+": no answer for 200ms during the users search") {
		t.Errorf("stalled search: %v", err)
	}

	p2 := newProxy(t, s.URL)
	p2.freeze()
	src.URL, src.ConnectTimeout = p2.URL(), 500*time.Millisecond
	_, err = ldapUsers(t, src)
	if err == nil || !strings.Contains(err.Error(), "bind as "+testpeer.SlapdReaderDN+": no answer within 500ms") {
		t.Errorf("stalled bind: %v", err)
	}
}

// TestLDAPTLS checks ldaps:// and StartTLS against a CA made in the test.
func TestLDAPTLS(t *testing.T) {
	s := testpeer.StartSlapd(t, testpeer.SlapdOptions{LDIF: smallLDIF, TLS: true})
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := testpeer.WriteCA(otherCA); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		caFile   string
		err      string
	}{
		{"ldaps", s.LDAPSURL, false, s.CAFile, ""},
		{"ldaps by name", strings.Replace(s.LDAPSURL, "127.0.0.1", "localhost", 1), false, s.CAFile, ""},
		{"start_tls", s.URL, true, s.CAFile, ""},
		{"ldaps without the CA", s.LDAPSURL, false, "", "set [source] ca_file to the PEM file of the CA"},
		{"ldaps with another CA", s.LDAPSURL, false, otherCA, "check that [source] ca_file (" + otherCA + ") holds the CA"},
		{"start_tls with another CA", s.URL, true, otherCA, "check that [source] ca_file (" + otherCA + ") holds the CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := ldapSource(s)
			src.URL, src.StartTLS, src.CAFile = tc.url, tc.startTLS, tc.caFile
			got, err := ldapUsers(t, src)
			if tc.err == "" {
				if err != nil || len(got) != 4 {
					t.Errorf("got %d users, %v", len(got), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.url) {
				t.Errorf("error %v, want one naming %s and saying %q", err, tc.url, tc.err)
			}
		})
	}
}
