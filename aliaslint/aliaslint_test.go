package aliaslint_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/aliaslint"
	"github.com/peoplesync/peoplesync/nidump"
)

const passwd = `root:*:0:1::0:0:Operator:/:/bin/csh
jnewberg:*:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh
ksmith:*:1002:20::0:0:Kim Smith:/Users/ksmith:/bin/csh
alice:*:1003:20::0:0:Alice:/Users/alice:/bin/csh
bob:*:1004:20::0:0:Bob:/Users/bob:/bin/csh
`

func check(t *testing.T, passwd, aliases string, servers ...string) []string {
	t.Helper()
	c, err := aliaslint.New(aliaslint.Options{MailServers: servers, MinUID: 100, PasswdFile: "passwd", AliasesFile: "aliases"})
	if err != nil {
		t.Fatal(err)
	}
	pr := nidump.NewPasswdReader(strings.NewReader(passwd), "passwd")
	for {
		e, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c.AddUser(e)
	}
	ar := nidump.NewAliasReader(strings.NewReader(aliases), "aliases")
	for {
		a, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c.AddAlias(a)
	}
	var out []string
	for _, p := range c.Problems() {
		out = append(out, p.String())
	}
	return out
}

func TestClean(t *testing.T) {
	got := check(t, passwd, `jnewberg: jnewberg@earth
ksmith: ksmith@venus.example.com
alice: alice@earth
bob: bob@venus, bob@gmail.example.net
Julia_Newberg: jnewberg
staff: jnewberg@earth, ksmith, "|/usr/bin/filter staff", /var/log/staff, :include:/etc/staff, \root
postmaster: root
root: root, root@elsewhere.example.org
`, "earth", "venus")
	if len(got) != 0 {
		t.Errorf("problems in a clean plan:\n%s", strings.Join(got, "\n"))
	}
}

func TestEachCheck(t *testing.T) {
	// Users who need no routing alias: the routing checks stay quiet.
	const system = "root:*:0:1::0:0:Operator:/:/bin/csh\njnewberg:*:10:20::0:0:J:/:/bin/csh\nksmith:*:11:20::0:0:K:/:/bin/csh\n"
	tests := []struct {
		name    string
		passwd  string
		servers []string
		aliases string
		want    []string
	}{
		{"no route", passwd, []string{"earth", "venus"}, "jnewberg: jnewberg@earth\nksmith: ksmith@venus\nalice: alice@earth\n",
			[]string{"passwd:5: user bob: has no routing alias (bob: bob@SERVER), so no mail server delivers its mail: add one (peoplesync aliases generate writes them) [no-route]"}},
		{"two servers", passwd, []string{"earth", "venus"}, "jnewberg: jnewberg@earth, jnewberg@VENUS\nksmith: ksmith@venus\nalice: alice@earth\nbob: bob@earth\n",
			[]string{"passwd:2: user jnewberg: is routed to 2 mail servers (earth and venus): keep one routing alias [two-servers]"}},
		{"two servers through a duplicate", passwd, []string{"earth", "venus"}, "jnewberg: jnewberg@earth\nksmith: ksmith@venus\nalice: alice@earth\nbob: bob@earth\nJNewberg: jnewberg@venus\n",
			[]string{
				"aliases:5: alias JNewberg: is defined again (first at aliases:1): mail programs use only one of them; merge the members into one entry [duplicate]",
				"passwd:2: user jnewberg: is routed to 2 mail servers (earth and venus): keep one routing alias [two-servers]",
			}},
		{"unknown server", passwd, []string{"earth", "venus.example.com"}, "jnewberg: jnewberg@earht\nksmith: ksmith@venus.example.com\nalice: alice@mars.example.com\nbob: bob@partner.example.org\n",
			[]string{
				"aliases:1: alias jnewberg: routes jnewberg to earht, which is not a mail server (earth, venus.example.com): fix the host, or add it to [people] mail_servers [unknown-server]",
				"aliases:3: alias alice: routes alice to mars.example.com, which is not a mail server (earth, venus.example.com): fix the host, or add it to [people] mail_servers [unknown-server]",
				// bob@partner.example.org is a forward: bob is just unrouted.
				"passwd:5: user bob: has no routing alias (bob: bob@SERVER), so no mail server delivers its mail: add one (peoplesync aliases generate writes them) [no-route]",
			}},
		{"loops", system, []string{"earth"}, "a: b\nb: c, jnewberg\nc: a@earth\nself: self\nroot: root, root@elsewhere.example.org\n",
			[]string{
				"aliases:1: alias a: alias loop a -> b -> c -> a: mail to any of them bounces (\"aliasing/forwarding loop broken\"); break the loop [loop]",
				"aliases:4: alias self: includes itself and there is no user self to deliver to: remove the member, or write it \\self [loop]",
			}},
		{"no such user", system, []string{"earth", "venus"}, "staff: jnewberg, jnewbreg, ksmith@earth, carol@venus, dave@partner.example.org, \\nobody, Bob Smith <bob@x.example>\n",
			[]string{
				`aliases:1: alias staff: the member "jnewbreg" names no user (local) and no alias jnewbreg: fix the name, or remove the member [no-such-user]`,
				`aliases:1: alias staff: the member "carol@venus" names no user (on mail server venus) and no alias carol: fix the name, or remove the member [no-such-user]`,
				`aliases:1: alias staff: the member "\\nobody" names no user (local) and no alias nobody: fix the name, or remove the member [no-such-user]`,
			}},
		{"needs quoting", system, nil, "\"with space\": jnewberg\nlist@x: jnewberg\nprog: |/usr/bin/vacation jnewberg, \"|/usr/bin/ok arg\"\n",
			[]string{
				`aliases:2: alias list@x: the name "list@x" holds a space, '#', ':', '@', ',' or '"': write it in double quotes, or rename the alias [needs-quoting]`,
				`aliases:3: alias prog: the program member "|/usr/bin/vacation jnewberg" holds a space: write it in double quotes, "|/usr/bin/vacation jnewberg" [needs-quoting]`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(t, tt.passwd, tt.aliases, tt.servers...)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Members from the raw format or LDAP can hold commas and names can hold
// anything: those are reported, with no line when none is known.
func TestExactValues(t *testing.T) {
	c, _ := aliaslint.New(aliaslint.Options{AliasesFile: "ldap://ldap.example.com"})
	c.AddUser(nidump.PasswdEntry{Name: "jnewberg", UID: "1001"})
	c.AddAlias(nidump.Alias{Name: "staff: all", Members: []string{"Smith, Kim <ksmith@venus>", `"Doe, J" <jd@x.example>`, "jnewberg"}})
	var got []string
	for _, p := range c.Problems() {
		got = append(got, p.String())
	}
	want := []string{
		`ldap://ldap.example.com: alias staff: all: the name "staff: all" holds a space, '#', ':', '@', ',' or '"': write it in double quotes, or rename the alias [needs-quoting]`,
		`ldap://ldap.example.com: alias staff: all: the member "Smith, Kim <ksmith@venus>" holds a comma, so every reader of the aliases file splits it in two: quote it or fix it in the domain [needs-quoting]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A long chain of aliases does not exhaust the stack, and a long loop is
// reported once.
func TestLongChain(t *testing.T) {
	var b strings.Builder
	const n = 100000
	for i := range n {
		fmt.Fprintf(&b, "a%d: a%d\n", i, (i+1)%n)
	}
	got := check(t, "", b.String())
	if len(got) != 1 || !strings.HasPrefix(got[0], "aliases:1: alias a0: alias loop a0 -> a1 -> a2 -> ") || !strings.Contains(got[0], "a99999 -> a0:") {
		t.Errorf("got %d problems: %.200q", len(got), got)
	}
}

func TestBadServer(t *testing.T) {
	if _, err := aliaslint.New(aliaslint.Options{MailServers: []string{"bad host"}}); err == nil {
		t.Error("a bad server name was accepted")
	}
}
