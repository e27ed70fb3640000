package testpeer

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The directory every slapd started here serves.
const (
	SlapdSuffix = "dc=example,dc=org"
	SlapdRootDN = "cn=admin,dc=example,dc=org"
	SlapdRootPW = "secret"
	// SlapdReaderDN is the account peoplesync binds as: it may read every
	// entry, userPassword included, with no size limit.
	SlapdReaderDN = "cn=peoplesync,dc=example,dc=org"
	// SlapdReaderPW is its password.
	SlapdReaderPW = "reader-Secret-42"
)

// SlapdOptions configure a slapd.
type SlapdOptions struct {
	// LDIF writes the entries bulk-loaded with slapadd before slapd
	// starts, after the base entries (the suffix, cn=peoplesync,
	// ou=people and ou=aliases). It may be nil.
	LDIF func(w io.Writer) error
	// TLS makes a CA and a server certificate for 127.0.0.1 and
	// localhost, and listens on ldaps:// too (StartTLS works on ldap://).
	TLS bool
}

// Slapd is an OpenLDAP slapd running as a plain process on loopback.
type Slapd struct {
	// URL is ldap://127.0.0.1:PORT.
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT (with TLS only).
	LDAPSURL string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate (with TLS only).
	CAFile string
	// ReaderPasswordFile holds SlapdReaderPW, mode 0600.
	ReaderPasswordFile string
	// Dir holds the config, the database and the certificates.
	Dir string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex
	out  bytes.Buffer // slapd's stderr
}

// slapdPrograms finds slapd and slapadd (in /usr/sbin, often not on PATH).
func slapdPrograms() (slapd, slapadd string, err error) {
	find := func(name string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		p := "/usr/sbin/" + name
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s is not installed (Debian: apt-get install slapd ldap-utils)", name)
		}
		return p, nil
	}
	if slapd, err = find("slapd"); err != nil {
		return
	}
	slapadd, err = find("slapadd")
	return
}

// SlapdInstalled reports why slapd cannot run here (nil when it can).
func SlapdInstalled() error {
	_, _, err := slapdPrograms()
	return err
}

// StartSlapd starts a slapd for the test in a temporary directory, with the
// entries opts.LDIF writes loaded, and stops it when the test ends. It
// calls Missing when slapd is not installed.
func StartSlapd(tb testing.TB, opts SlapdOptions) *Slapd {
	tb.Helper()
	if _, _, err := slapdPrograms(); err != nil {
		Missing(tb, "OpenLDAP slapd", err.Error())
	}
	s, err := RunSlapd(tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Stop()
		if tb.Failed() {
			tb.Logf("slapd output:\n%s", s.Output())
		}
	})
	return s
}

// RunSlapd starts a slapd in dir (outside tests, for benchmarks). The
// caller must Stop it.
func RunSlapd(dir string, opts SlapdOptions) (*Slapd, error) {
	slapd, slapadd, err := slapdPrograms()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Slapd{Dir: dir, ReaderPasswordFile: filepath.Join(dir, "reader.password")}
	if err := os.WriteFile(s.ReaderPasswordFile, []byte(SlapdReaderPW+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	var tlsConf string
	if opts.TLS {
		if tlsConf, err = s.makeCerts(); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(slapdConf, tlsConf, dir)), 0o600); err != nil {
		return nil, err
	}
	if err := s.load(slapadd, conf, opts.LDIF); err != nil {
		return nil, err
	}
	// A free port can be taken between finding it and slapd binding it:
	// try a few.
	for try := 0; ; try++ {
		err := s.start(slapd, conf, opts.TLS)
		if err == nil {
			return s, nil
		}
		if try == 2 || !strings.Contains(s.Output(), "Address already in use") {
			return nil, err
		}
	}
}

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
%s
pidfile  %[2]s/slapd.pid
argsfile %[2]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize  1073741824
dbnosync
suffix   "dc=example,dc=org"
rootdn   "cn=admin,dc=example,dc=org"
rootpw   secret
directory %[2]s/db
index objectClass eq
index uid,cn eq
access to attrs=userPassword
	by dn.exact="cn=peoplesync,dc=example,dc=org" read
	by anonymous auth
	by * none
access to * by * read
limits dn.exact="cn=peoplesync,dc=example,dc=org" size=unlimited time=unlimited
`

const slapdBase = `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=peoplesync,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: peoplesync
userPassword: ` + SlapdReaderPW + `

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=aliases,dc=example,dc=org
objectClass: organizationalUnit
ou: aliases

`

// load bulk-loads the base entries and ldif with slapadd, offline: far
// faster than adding them over LDAP.
func (s *Slapd) load(slapadd, conf string, ldif func(io.Writer) error) error {
	path := filepath.Join(s.Dir, "data.ldif")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.WriteString(slapdBase)
	if ldif != nil {
		if err := ldif(bw); err != nil {
			f.Close()
			return fmt.Errorf("write the LDIF: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	out, err := exec.Command(slapadd, "-q", "-f", conf, "-l", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapadd -q -f %s -l %s: %v\n%s", conf, path, err, out)
	}
	return os.Remove(path)
}

// start runs slapd and waits until it accepts connections.
func (s *Slapd) start(slapd, conf string, withTLS bool) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	urls := s.URL + "/"
	if withTLS {
		tlsPort, err := freePort()
		if err != nil {
			return err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort)
		urls += " " + s.LDAPSURL + "/"
	}
	s.mu.Lock()
	s.out.Reset()
	s.mu.Unlock()
	// -d 32768 (the "none" level) keeps slapd in the foreground and logs
	// only what it always logs: "slapd starting" and errors.
	s.cmd = exec.Command(slapd, "-h", urls, "-f", conf, "-d", "32768")
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	s.done = make(chan struct{})
	starting := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			s.mu.Lock()
			s.out.Write(sc.Bytes())
			s.out.WriteByte('\n')
			s.mu.Unlock()
			if !seen && strings.HasSuffix(sc.Text(), "slapd starting") {
				seen = true
				close(starting)
			}
		}
		io.Copy(io.Discard, stderr)
		s.cmd.Wait()
		close(s.done)
	}()
	select {
	case <-starting:
	case <-s.done:
		return fmt.Errorf("slapd exited at start-up: %s\n%s", s.cmd.ProcessState, s.Output())
	case <-time.After(30 * time.Second):
		s.Kill()
		return fmt.Errorf("slapd did not start within 30s:\n%s", s.Output())
	}
	// slapd prints "slapd starting" just before its listener threads call
	// listen(): wait until every URL accepts a connection.
	for _, u := range strings.Fields(urls) {
		addr := strings.TrimSuffix(u[strings.Index(u, "//")+2:], "/")
		if err := s.waitAccepting(addr); err != nil {
			s.Kill()
			return err
		}
	}
	return nil
}

func (s *Slapd) waitAccepting(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd does not accept connections on %s: %v\n%s", addr, err, s.Output())
		}
		select {
		case <-s.done:
			return fmt.Errorf("slapd exited: %s\n%s", s.cmd.ProcessState, s.Output())
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Output returns what slapd wrote to its standard error.
func (s *Slapd) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Kill stops slapd at once with SIGKILL, as a crash would, and waits for
// it to exit.
func (s *Slapd) Kill() {
	s.signal(syscall.SIGKILL)
}

// Stop stops slapd with SIGTERM, a clean shutdown, and waits for it to
// exit (SIGKILL after 10s).
func (s *Slapd) Stop() {
	s.signal(syscall.SIGTERM)
}

func (s *Slapd) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// newCA makes a CA certificate and its key.
func newCA() (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "peoplesync test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, der, err
}

// WriteCA writes a new CA certificate (one that signed nothing) to path
// in PEM, for tests of a wrong ca_file.
func WriteCA(path string) error {
	_, _, der, err := newCA()
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

// makeCerts writes a CA and a server certificate signed by it, and returns
// the slapd.conf lines that use them.
func (s *Slapd) makeCerts() (string, error) {
	caCert, caKey, caDER, err := newCA()
	if err != nil {
		return "", err
	}
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	certFile, keyFile := filepath.Join(s.Dir, "server.pem"), filepath.Join(s.Dir, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{s.CAFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", leafDER}, {keyFile, "PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n", s.CAFile, certFile, keyFile), nil
}
