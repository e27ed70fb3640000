// Command ldap-bench times dumping 50,000 users and 50,000 aliases from a
// real OpenLDAP slapd with peoplesync (`peoplesync dump passwd` and
// `peoplesync dump aliases`, the binary, LDAP source) side by side in the
// same run with what an admin would write instead: ldapsearch (paged, the
// same page size) piped into awk scripts that turn the LDIF into passwd and
// aliases lines. It checks that both write the same bytes, and prints both
// times (median of several runs), the ratio and peoplesync's peak RSS.
//
//	go run ./internal/bench/ldap [-users 50000] [-aliases 50000] [-runs 3]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/peoplesync/peoplesync/internal/bench/benchutil"
	"github.com/peoplesync/peoplesync/internal/ldapgen"
	"github.com/peoplesync/peoplesync/internal/testpeer"
)

// The conversion a user would write: ldapsearch -LLL -o ldif-wrap=no
// prints one attribute a line and a blank line after each entry. The
// password is written as "*", as peoplesync's People directory does
// (ldapsearch prints userPassword in base64 anyway).
const awkPasswd = `
function flush() {
	if (uid != "") print uid ":*:" un ":" gn "::0:0:" (gecos != "" ? gecos : cn) ":" home ":" shell
	uid = un = gn = gecos = cn = home = shell = ""
}
/^$/ { flush(); next }
{ v = substr($0, index($0, ": ") + 2) }
/^uid: / { uid = v } /^uidNumber: / { un = v } /^gidNumber: / { gn = v }
/^gecos: / { gecos = v } /^cn: / { if (cn == "") cn = v }
/^homeDirectory: / { home = v } /^loginShell: / { shell = v }
END { flush() }`

const awkAliases = `
function flush() { if (cn != "" && m != "") print cn ": " m; cn = m = "" }
/^$/ { flush(); next }
/^cn: / { cn = substr($0, 5) }
/^rfc822MailMember: / { v = substr($0, 19); m = (m == "" ? v : m "," v) }
END { flush() }`

func main() {
	users := flag.Int("users", 50_000, "users in the directory")
	aliases := flag.Int("aliases", 50_000, "aliases in the directory (a routing alias per user, then lists of 20)")
	runs := flag.Int("runs", 3, "runs of each command (the median is reported)")
	flag.Parse()
	if err := run(*users, *aliases, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "ldap-bench:", err)
		os.Exit(1)
	}
}

func run(users, aliases, runs int) error {
	for _, p := range []string{"ldapsearch", "awk"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is not installed (Debian: apt-get install ldap-utils gawk)", p)
		}
	}
	dir, err := os.MkdirTemp("", "peoplesync-ldap-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "peoplesync")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/peoplesync").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}

	start := time.Now()
	s, err := testpeer.RunSlapd(filepath.Join(dir, "slapd"), testpeer.SlapdOptions{LDIF: ldapgen.Directory{Users: users, Aliases: aliases}.WriteLDIF})
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf("slapd %s: %d users and %d aliases bulk-loaded with slapadd and started in %v\n\n", s.URL, users, aliases, time.Since(start).Round(time.Millisecond))

	const pageSize = 500
	conf := filepath.Join(dir, "peoplesync.toml")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`[source]
kind = "ldap"
url = %q
bind_dn = %q
bind_password_file = %q
users_base = %q
aliases_base = %q
page_size = %d
[people]
dir = %q
`, s.URL, testpeer.SlapdReaderDN, s.ReaderPasswordFile, ldapgen.PeopleDN, ldapgen.AliasesDN, pageSize, filepath.Join(dir, "People"))), 0o600)
	if err != nil {
		return err
	}
	awkP, awkA := filepath.Join(dir, "passwd.awk"), filepath.Join(dir, "aliases.awk")
	os.WriteFile(awkP, []byte(awkPasswd), 0o644)
	os.WriteFile(awkA, []byte(awkAliases), 0o644)

	// ldapsearch -y sends the whole file, a final newline included.
	pwNoNewline := filepath.Join(dir, "ldapsearch.password")
	if err := os.WriteFile(pwNoNewline, []byte(testpeer.SlapdReaderPW), 0o600); err != nil {
		return err
	}
	search := func(base, filter, attrs string) string {
		return fmt.Sprintf("ldapsearch -LLL -x -o ldif-wrap=no -H %s -D %s -y %s -E pr=%d/noprompt -b %s '%s' %s",
			s.URL, testpeer.SlapdReaderDN, pwNoNewline, pageSize, base, filter, attrs)
	}
	pipeline := fmt.Sprintf("%s | awk -f %s > %s/awk.passwd && %s | awk -f %s > %s/awk.aliases",
		search(ldapgen.PeopleDN, "(objectClass=posixAccount)", "uid uidNumber gidNumber gecos cn homeDirectory loginShell"), awkP, dir,
		search(ldapgen.AliasesDN, "(objectClass=nisMailAlias)", "cn rfc822MailMember"), awkA, dir)
	ours := fmt.Sprintf("%s --config %s dump passwd > %s/ps.passwd && %s --config %s dump aliases > %s/ps.aliases", bin, conf, dir, bin, conf, dir)

	a, o, rss, err := benchutil.SideBySide(pipeline, ours, runs)
	if err != nil {
		return err
	}
	same := true
	for _, f := range []string{"passwd", "aliases"} {
		want, _ := os.ReadFile(filepath.Join(dir, "awk."+f))
		got, _ := os.ReadFile(filepath.Join(dir, "ps."+f))
		fmt.Printf("%-8s peoplesync %6d lines, ldapsearch | awk %6d lines\n", f, bytes.Count(got, []byte{'\n'}), bytes.Count(want, []byte{'\n'}))
		same = same && bytes.Equal(want, got)
	}
	fmt.Printf("outputs identical: %v\n\n", same)
	fmt.Printf("%-66s %10s\n", "command (users, then aliases)", "median")
	fmt.Printf("%-66s %10s\n", fmt.Sprintf("ldapsearch -E pr=%d | awk (x2)", pageSize), a.Round(time.Millisecond))
	fmt.Printf("%-66s %10s\n", fmt.Sprintf("peoplesync dump passwd; peoplesync dump aliases (page_size %d)", pageSize), o.Round(time.Millisecond))
	fmt.Printf("\nratio peoplesync/pipeline: %.2f\n", o.Seconds()/a.Seconds())
	fmt.Printf("peoplesync peak RSS: %.1f MB\n", float64(rss)/1024)
	if !same {
		return fmt.Errorf("the outputs differ: compare %s/awk.* and %s/ps.*", dir, dir)
	}
	return nil
}
