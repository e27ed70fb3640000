package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/peoplesync/peoplesync/nidump"
)

// LDAP reads a mail domain from an LDAP directory (NetInfo's successor,
// Open Directory, is one): RFC 2307 posixAccount entries are the users and
// nisMailAlias entries the aliases. The records are the ones the files and
// command sources give, so the rest of peoplesync works unchanged.
//
// Searches are paged and streamed: each entry is handed to the callback as
// it arrives, so memory stays bounded by a page whatever the size of the
// directory. Every network step has a deadline. When the connection drops
// during a search, LDAP reconnects and searches again from the start,
// skipping the entries already handed on; it checks that the server gives
// those back in the same order (by their DNs) and fails rather than hand
// on an entry twice or miss one. (Paged-search cookies do not survive a
// new connection on OpenLDAP, so resuming in the middle is not possible.)
//
// Users are written in the 10-field form nidump prints on Mac OS X,
// name:passwd:uid:gid:class:change:expire:realname:home:shell, with class
// empty and change and expire "0" (posixAccount has none of them), or in
// the 7-field form with PasswdForm = nidump.Form7. The password field is
// the crypt(3) hash of a {CRYPT} userPassword, and "*" for any other
// scheme or when the bind DN may not read userPassword. The real name is
// gecos, or cn when there is no gecos.
type LDAP struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS operation.
	StartTLS bool
	// CAFile is a PEM file of the CA certificates the server's certificate
	// is checked against (default: the system's).
	CAFile string
	// BindDN is the DN to bind as; empty means an anonymous bind.
	BindDN string
	// BindPasswordFile holds the bind password (one line). It is read on
	// every connect, never logged, and refused when everyone may read it.
	BindPasswordFile string

	// Domain is the NetInfo domain path the bases below stand for ("/",
	// "/mail"); it only labels messages.
	Domain string
	// UsersBase and AliasesBase are the search bases (whole subtree).
	UsersBase   string
	AliasesBase string
	// UsersFilter (default DefaultUsersFilter) and AliasesFilter (default
	// DefaultAliasesFilter) select the entries.
	UsersFilter   string
	AliasesFilter string
	// Attributes maps the RFC 2307 attributes to the directory's names;
	// an empty field keeps the standard name.
	Attributes LDAPAttributes
	// PasswdForm is nidump.Form10 (default) or nidump.Form7.
	PasswdForm nidump.PasswdForm
	// SkipPasswords leaves the password attribute out of the search: every
	// password field is "*", and the hashes never leave the directory.
	// peoplesync sets it when [people] redact_passwords is on (the default).
	SkipPasswords bool

	// PageSize is the number of entries a page (default 500).
	PageSize int
	// ConnectTimeout bounds connecting, the TLS handshake, StartTLS and
	// the bind (default 10s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds each wait for the server's next answer during
	// a search (default 60s).
	RequestTimeout time.Duration
	// Timeout bounds each whole search, reconnects included (0: only the
	// context's deadline).
	Timeout time.Duration
	// Retries is how many times a dropped connection is re-established
	// during one search (default 3; negative: none).
	Retries int
	// RetryBackoff is the wait before the first reconnect, doubled before
	// each next one (default 1s).
	RetryBackoff time.Duration
}

// LDAPAttributes names the attributes users and aliases are read from.
type LDAPAttributes struct {
	UID           string // default "uid"
	UserPassword  string // default "userPassword"
	UIDNumber     string // default "uidNumber"
	GIDNumber     string // default "gidNumber"
	Gecos         string // default "gecos"
	CN            string // default "cn" (the real name when there is no gecos)
	HomeDirectory string // default "homeDirectory"
	LoginShell    string // default "loginShell"
	AliasName     string // default "cn"
	AliasMember   string // default "rfc822MailMember", one member a value
}

// The default filters and attributes.
const (
	DefaultUsersFilter   = "(objectClass=posixAccount)"
	DefaultAliasesFilter = "(objectClass=nisMailAlias)"
	DefaultLDAPPageSize  = 500
)

// defaultAttributes are the RFC 2307 attribute names.
var defaultAttributes = LDAPAttributes{
	UID: "uid", UserPassword: "userPassword", UIDNumber: "uidNumber", GIDNumber: "gidNumber",
	Gecos: "gecos", CN: "cn", HomeDirectory: "homeDirectory", LoginShell: "loginShell",
	AliasName: "cn", AliasMember: "rfc822MailMember",
}

var _ Source = LDAP{}

func (s LDAP) String() string {
	d := ""
	if s.Domain != "" {
		d = " domain " + s.Domain
	}
	return fmt.Sprintf("ldap %s%s (users %s, aliases %s)", s.URL, d, s.UsersBase, s.AliasesBase)
}

// withDefaults returns s with every zero setting at its default.
func (s LDAP) withDefaults() LDAP {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.UsersFilter, DefaultUsersFilter)
	def(&s.AliasesFilter, DefaultAliasesFilter)
	a, d := &s.Attributes, defaultAttributes
	def(&a.UID, d.UID)
	def(&a.UserPassword, d.UserPassword)
	def(&a.UIDNumber, d.UIDNumber)
	def(&a.GIDNumber, d.GIDNumber)
	def(&a.Gecos, d.Gecos)
	def(&a.CN, d.CN)
	def(&a.HomeDirectory, d.HomeDirectory)
	def(&a.LoginShell, d.LoginShell)
	def(&a.AliasName, d.AliasName)
	def(&a.AliasMember, d.AliasMember)
	if s.PasswdForm == 0 {
		s.PasswdForm = nidump.Form10
	}
	if s.PageSize <= 0 {
		s.PageSize = DefaultLDAPPageSize
	}
	if s.ConnectTimeout <= 0 {
		s.ConnectTimeout = 10 * time.Second
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 60 * time.Second
	}
	if s.Retries == 0 {
		s.Retries = 3
	}
	if s.RetryBackoff <= 0 {
		s.RetryBackoff = time.Second
	}
	return s
}

// Passwd implements Source.
func (s LDAP) Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error {
	s = s.withDefaults()
	a := s.Attributes
	attrs := []string{a.UID, a.UIDNumber, a.GIDNumber, a.Gecos, a.CN, a.HomeDirectory, a.LoginShell}
	if !s.SkipPasswords {
		attrs = append(attrs, a.UserPassword)
	}
	return s.search(ctx, "users", s.UsersBase, s.UsersFilter, attrs, func(e *ldap.Entry) error {
		u, err := s.passwdEntry(e)
		if err != nil {
			return permanent(fmt.Errorf("%s: %s: %w", s.URL, e.DN, err))
		}
		return fn(u)
	})
}

// Aliases implements Source.
func (s LDAP) Aliases(ctx context.Context, fn func(nidump.Alias) error) error {
	s = s.withDefaults()
	a := s.Attributes
	return s.search(ctx, "aliases", s.AliasesBase, s.AliasesFilter, []string{a.AliasName, a.AliasMember}, func(e *ldap.Entry) error {
		al, ok, err := s.alias(e)
		if err != nil {
			return permanent(fmt.Errorf("%s: %s: %w", s.URL, e.DN, err))
		}
		if !ok {
			return nil
		}
		return fn(al)
	})
}

// passwdEntry turns a posixAccount entry into a passwd line's fields.
func (s LDAP) passwdEntry(e *ldap.Entry) (nidump.PasswdEntry, error) {
	a := s.Attributes
	name := rdnValue(e, a.UID)
	required := func(attr string) (string, error) {
		v := e.GetEqualFoldAttributeValues(attr)
		if len(v) == 0 || v[0] == "" {
			return "", fmt.Errorf("has no %s, which a passwd line needs: add it, or narrow users_filter to exclude the entry", attr)
		}
		return v[0], nil
	}
	if name == "" {
		return nidump.PasswdEntry{}, fmt.Errorf("has no %s (the login name): add it, or narrow users_filter to exclude the entry", a.UID)
	}
	uid, err := required(a.UIDNumber)
	if err != nil {
		return nidump.PasswdEntry{}, err
	}
	gid, err := required(a.GIDNumber)
	if err != nil {
		return nidump.PasswdEntry{}, err
	}
	home, err := required(a.HomeDirectory)
	if err != nil {
		return nidump.PasswdEntry{}, err
	}
	realName := e.GetEqualFoldAttributeValue(a.Gecos)
	if realName == "" {
		realName = e.GetEqualFoldAttributeValue(a.CN)
	}
	u := nidump.PasswdEntry{
		Name: name, Passwd: "*",
		UID: uid, GID: gid, RealName: realName, Home: home,
		Shell: e.GetEqualFoldAttributeValue(a.LoginShell), Form: s.PasswdForm,
	}
	if !s.SkipPasswords {
		u.Passwd = cryptHash(e.GetEqualFoldAttributeValue(a.UserPassword))
	}
	if u.Form == nidump.Form10 {
		u.Change, u.Expire = "0", "0"
	}
	for _, f := range []struct{ attr, v string }{
		{a.UID, u.Name}, {a.UIDNumber, u.UID}, {a.GIDNumber, u.GID}, {a.Gecos + " or " + a.CN, u.RealName},
		{a.HomeDirectory, u.Home}, {a.LoginShell, u.Shell},
	} {
		if strings.ContainsAny(f.v, ":\r\n") {
			return nidump.PasswdEntry{}, fmt.Errorf("%s %q holds ':' or a line break, which a passwd line cannot hold: fix the entry", f.attr, f.v)
		}
	}
	return u, nil
}

// cryptHash returns the crypt(3) hash of a {CRYPT} userPassword, and "*"
// for anything else (another scheme, or none readable).
func cryptHash(pw string) string {
	const prefix = "{crypt}"
	if len(pw) > len(prefix) && strings.EqualFold(pw[:len(prefix)], prefix) && !strings.ContainsAny(pw, ":\r\n") {
		return pw[len(prefix):]
	}
	return "*"
}

// alias turns a nisMailAlias entry into an alias; ok is false for an entry
// with no members, which nidump skips too.
func (s LDAP) alias(e *ldap.Entry) (al nidump.Alias, ok bool, err error) {
	a := s.Attributes
	name := rdnValue(e, a.AliasName)
	if name == "" {
		return al, false, fmt.Errorf("has no %s (the alias name): add it, or narrow aliases_filter to exclude the entry", a.AliasName)
	}
	members := e.GetEqualFoldAttributeValues(a.AliasMember)
	if len(members) == 0 {
		return al, false, nil
	}
	if strings.ContainsAny(name, "\r\n") {
		return al, false, fmt.Errorf("alias name %q holds a line break, which an aliases file cannot hold", name)
	}
	for _, m := range members {
		if strings.ContainsAny(m, "\r\n") {
			return al, false, fmt.Errorf("member %q of %s holds a line break, which an aliases file cannot hold", m, name)
		}
	}
	return nidump.Alias{Name: name, Members: members}, true, nil
}

// rdnValue returns the entry's value of attr: the one in its RDN when attr
// names the RDN (so a second uid or cn does not win), else the first.
func rdnValue(e *ldap.Entry, attr string) string {
	values := e.GetEqualFoldAttributeValues(attr)
	if len(values) > 1 {
		if dn, err := ldap.ParseDN(e.DN); err == nil && len(dn.RDNs) > 0 {
			for _, tv := range dn.RDNs[0].Attributes {
				if strings.EqualFold(tv.Type, attr) {
					for _, v := range values {
						if v == tv.Value {
							return v
						}
					}
				}
			}
		}
	}
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// searchState is how far a search got: the entries handed on and a hash of
// their DNs in order, to skip and check them after a reconnect.
type searchState struct {
	delivered int
	sum       uint64
}

func dnHash(sum uint64, dn string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(sum >> (8 * i))
	}
	h.Write(b[:])
	io.WriteString(h, dn)
	return h.Sum64()
}

// search runs one paged subtree search, reconnecting when the connection
// drops, and calls fn with every entry once, in the server's order.
func (s LDAP) search(ctx context.Context, what, base, filter string, attrs []string, fn func(*ldap.Entry) error) error {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.Timeout, errSearchTimeout)
		defer cancel()
	}
	st := &searchState{}
	var dropped error // the last error that ended a search under way
	for attempt := 0; ; attempt++ {
		before := st.delivered
		err := s.searchOnce(ctx, what, base, filter, attrs, st, fn)
		if err == nil {
			return nil
		}
		if st.delivered > before || dropped == nil {
			dropped = err
		}
		if ctx.Err() != nil {
			if context.Cause(ctx) == errSearchTimeout {
				return fmt.Errorf("%s: the %s search timed out after %v (%d entries read): check the server's load, or raise [source] timeout", s.URL, what, s.Timeout, st.delivered)
			}
			return fmt.Errorf("%s: %s search: %w", s.URL, what, ctx.Err())
		}
		var p permanentError
		if errors.As(err, &p) {
			return p.err
		}
		if attempt >= s.Retries {
			if attempt == 0 {
				return err
			}
			if dropped != err {
				return fmt.Errorf("%w; reconnecting failed %d times, the last time with: %v", dropped, attempt, err)
			}
			return fmt.Errorf("%w (gave up after %d reconnects)", err, attempt)
		}
		wait := s.RetryBackoff << attempt
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

var errSearchTimeout = errors.New("search timeout")

// permanentError is an error a reconnect cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	var p permanentError
	if err == nil || errors.As(err, &p) {
		return err
	}
	return permanentError{err}
}

// searchOnce connects and searches, skipping the st.delivered entries
// already handed on.
func (s LDAP) searchOnce(ctx context.Context, what, base, filter string, attrs []string, st *searchState, fn func(*ldap.Entry) error) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	skip, replay := st.delivered, uint64(0)
	var cookie []byte
	for {
		paging := ldap.NewControlPaging(uint32(s.PageSize))
		paging.SetCookie(cookie)
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
		pageCtx, cancel := context.WithCancel(ctx)
		res := c.l.SearchAsync(pageCtx, req, 64)
		cookie = nil
		var stop error
		for c.next(res) {
			e := res.Entry()
			if e == nil {
				// The SearchResultDone's controls.
				if pc, ok := ldap.FindControl(res.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
					cookie = pc.Cookie
				}
				continue
			}
			if skip > 0 {
				replay = dnHash(replay, e.DN)
				if skip--; skip == 0 && replay != st.sum {
					stop = s.changed(what, st)
					break
				}
				continue
			}
			if err := fn(e); err != nil {
				stop = permanent(err)
				break
			}
			st.delivered++
			st.sum = dnHash(st.sum, e.DN)
		}
		cancel()
		err := res.Err()
		if err == nil && len(cookie) == 0 && c.l.IsClosing() {
			// go-ldap ends a search on a closed connection without an
			// error, as if it were done.
			err = ldap.NewError(ldap.ErrorNetwork, errors.New("the connection closed before the search was done"))
		}
		switch {
		case stop != nil:
			return stop
		case c.timedOut.Load():
			return fmt.Errorf("%s: no answer for %v during the %s search (%d entries read): the server is overloaded or the network dropped; raise [source] request_timeout if the server is just slow", s.URL, s.RequestTimeout, what, st.delivered)
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return s.searchError(what, base, filter, st, err)
		}
		if len(cookie) == 0 {
			if skip > 0 {
				return s.changed(what, st)
			}
			return nil
		}
	}
}

func (s LDAP) changed(what string, st *searchState) error {
	return permanent(fmt.Errorf("%s: the connection dropped during the %s search after %d entries, and after reconnecting the server gave back different entries before that point: the directory changed meanwhile; run again", s.URL, what, st.delivered))
}

// searchError explains an error ending a search page.
func (s LDAP) searchError(what, base, filter string, st *searchState, err error) error {
	key := what + "_base"
	switch {
	case isNetworkError(err):
		return fmt.Errorf("%s: the connection was lost during the %s search after %d entries: %v: check that the server is running and reachable", s.URL, what, st.delivered, ldapMessage(err))
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable):
		return fmt.Errorf("%s: the %s search failed after %d entries: %v", s.URL, what, st.delivered, ldapMessage(err))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return permanent(fmt.Errorf("%s: %s search: the base %q does not exist: check [source] %s", s.URL, what, base, key))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return permanent(fmt.Errorf("%s: the server's size limit stopped the %s search after %d entries: let %s read them all (slapd: limits dn.exact=%q size=unlimited)", s.URL, what, st.delivered, s.bindName(), s.BindDN))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultFilterError):
		return permanent(fmt.Errorf("%s: %s search: the server rejects the filter %q: check [source] %s_filter", s.URL, what, filter, what))
	}
	return permanent(fmt.Errorf("%s: %s search of %q failed after %d entries: %v", s.URL, what, base, st.delivered, ldapMessage(err)))
}

func (s LDAP) bindName() string {
	if s.BindDN == "" {
		return "the anonymous bind"
	}
	return s.BindDN
}

// ldapMessage shortens go-ldap's `LDAP Result Code 49 "Invalid
// Credentials": ` style to the result name and the server's message.
func ldapMessage(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		name := ldap.LDAPResultCodeMap[le.ResultCode]
		msg := ""
		if le.Err != nil {
			msg = le.Err.Error()
		}
		switch {
		case le.ResultCode == ldap.ErrorNetwork || msg == "":
			if msg == "" {
				return strings.ToLower(name)
			}
			return msg
		}
		return fmt.Sprintf("%s (%s)", strings.ToLower(name), msg)
	}
	return err.Error()
}

// isNetworkError reports whether err is a lost or broken connection, which
// a reconnect may cure. go-ldap reports some of those as plain errors
// (a read error when the server goes away), so their text is matched too.
func isNetworkError(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	switch {
	case ldap.IsErrorWithCode(err, ldap.ErrorNetwork), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.As(err, &ne):
		return true
	}
	msg := err.Error()
	for _, s := range []string{"unable to read LDAP response packet", "unable to send request", "connection closed", "connection reset", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// conn is one connection to the server.
type conn struct {
	l        *ldap.Conn
	timeout  time.Duration
	timer    *time.Timer
	timedOut atomic.Bool
	stop     func() bool
}

// next waits for the next search result, closing the connection when no
// answer comes within the request timeout.
func (c *conn) next(res ldap.Response) bool {
	c.timer.Reset(c.timeout)
	ok := res.Next()
	c.timer.Stop()
	return ok
}

// guard runs one request under the timeout.
func (c *conn) guard(timeout time.Duration, f func() error) error {
	c.timer.Reset(timeout)
	err := f()
	c.timer.Stop()
	return err
}

func (c *conn) close() {
	c.timer.Stop()
	c.stop()
	c.l.Close()
}

// connect dials, sets up TLS and binds.
func (s LDAP) connect(ctx context.Context) (*conn, error) {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, permanent(fmt.Errorf("[source] url %q: want ldap://HOST[:PORT] or ldaps://HOST[:PORT]", s.URL))
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	var tlsConfig *tls.Config
	if u.Scheme == "ldaps" || s.StartTLS {
		if tlsConfig, err = s.tlsConfig(host); err != nil {
			return nil, permanent(err)
		}
	}
	dialer := net.Dialer{Timeout: s.ConnectTimeout}
	raw, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w: check that the server is running and [source] url", s.URL, err)
	}
	nc := raw
	if u.Scheme == "ldaps" {
		tc := tls.Client(raw, tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, s.tlsError(err)
		}
		nc = tc
	}
	l := ldap.NewConn(nc, u.Scheme == "ldaps")
	l.Start()
	c := &conn{l: l, timeout: s.RequestTimeout}
	c.timer = time.AfterFunc(time.Hour, func() {
		c.timedOut.Store(true)
		l.Close()
	})
	c.timer.Stop()
	c.stop = context.AfterFunc(ctx, func() { l.Close() })
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	if s.StartTLS && u.Scheme == "ldap" {
		err := c.guard(s.ConnectTimeout, func() error { return l.StartTLS(tlsConfig) })
		switch {
		case c.timedOut.Load():
			return nil, fmt.Errorf("%s: StartTLS: no answer within %v", s.URL, s.ConnectTimeout)
		case err != nil:
			return nil, s.tlsError(err)
		}
	}
	if s.BindDN != "" {
		pw, err := ReadPasswordFile(s.BindPasswordFile)
		if err != nil {
			return nil, permanent(err)
		}
		err = c.guard(s.ConnectTimeout, func() error { return l.Bind(s.BindDN, pw) })
		switch {
		case c.timedOut.Load():
			return nil, fmt.Errorf("%s: bind as %s: no answer within %v", s.URL, s.BindDN, s.ConnectTimeout)
		case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
			return nil, permanent(fmt.Errorf("%s: bind as %s: invalid credentials: check [source] bind_dn and the password in %s", s.URL, s.BindDN, s.BindPasswordFile))
		case isNetworkError(err):
			return nil, fmt.Errorf("%s: bind as %s: %v", s.URL, s.BindDN, ldapMessage(err))
		case err != nil:
			return nil, permanent(fmt.Errorf("%s: bind as %s: %v", s.URL, s.BindDN, ldapMessage(err)))
		}
	}
	ok = true
	return c, nil
}

func (s LDAP) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if s.CAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("[source] ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("[source] ca_file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", s.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// tlsError explains a failed TLS handshake (ldaps or StartTLS).
func (s LDAP) tlsError(err error) error {
	msg := ldapMessage(err)
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &hostErr):
		return permanent(fmt.Errorf("%s: TLS: %v: name the server in [source] url as its certificate does", s.URL, hostErr))
	case errors.As(err, &unknown), errors.As(err, &verify), strings.Contains(msg, "x509:"), strings.Contains(msg, "certificate"):
		hint := "set [source] ca_file to the PEM file of the CA that signed the server's certificate"
		if s.CAFile != "" {
			hint = fmt.Sprintf("check that [source] ca_file (%s) holds the CA that signed the server's certificate", s.CAFile)
		}
		return permanent(fmt.Errorf("%s: TLS: %s: %s", s.URL, msg, hint))
	case s.StartTLS && ldap.IsErrorAnyOf(err, ldap.LDAPResultProtocolError, ldap.LDAPResultUnavailable, ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultOther):
		return permanent(fmt.Errorf("%s: the server refuses StartTLS: %s: use an ldaps:// url, or enable TLS on the server", s.URL, msg))
	}
	return fmt.Errorf("%s: TLS: %s", s.URL, msg)
}

// ReadPasswordFile reads a bind password: the file's first line, without
// its line ending. It refuses a file everyone may read, an empty one, and
// one of more than one line; the errors never hold the password.
func ReadPasswordFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("[source] bind_dn is set but bind_password_file is not: name the file holding the password")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("bind_password_file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("bind_password_file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("bind_password_file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return "", fmt.Errorf("bind_password_file %s may be read or changed by everyone (mode %04o): run chmod o-rwx %s (0600 or 0640 is right)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64*1024))
	if err != nil {
		return "", fmt.Errorf("bind_password_file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	switch {
	case pw == "":
		return "", fmt.Errorf("bind_password_file %s is empty: write the bind password in it", path)
	case strings.ContainsAny(pw, "\r\n"):
		return "", fmt.Errorf("bind_password_file %s holds more than one line: it must hold the password alone", path)
	}
	return pw, nil
}
