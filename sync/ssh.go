package sync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Default SSH settings used when the SSHOptions field is zero.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultIOTimeout      = 60 * time.Second
)

// SSHOptions are the SSH settings shared by every host.
type SSHOptions struct {
	// User is the login name for hosts that set none. Required unless every
	// Host sets User.
	User string
	// IdentityFile is a private key file (unencrypted; keep encrypted keys
	// in ssh-agent) for hosts that set none. Optional when an agent is used.
	IdentityFile string
	// KnownHosts is the known_hosts file every host key is verified against.
	// Required: verification cannot be turned off.
	KnownHosts string
	// ConnectTimeout bounds connecting, the SSH handshake, authentication
	// and starting SFTP (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// IOTimeout is how long a host may make no progress before it fails
	// (default DefaultIOTimeout): a server that stops answering, or whose
	// SFTP server or special command does nothing (no response, no output)
	// for this long while sshd still answers. Keepalives are sent every
	// IOTimeout/3, so an idle but healthy connection does not time out.
	IOTimeout time.Duration
	// AgentSocket is the ssh-agent socket to take keys from, usually
	// os.Getenv("SSH_AUTH_SOCK"); empty: no agent.
	AgentSocket string
}

func (o SSHOptions) connectTimeout() time.Duration {
	if o.ConnectTimeout > 0 {
		return o.ConnectTimeout
	}
	return DefaultConnectTimeout
}

func (o SSHOptions) ioTimeout() time.Duration {
	if o.IOTimeout > 0 {
		return o.IOTimeout
	}
	return DefaultIOTimeout
}

// hostKeys verifies host keys against one known_hosts file.
type hostKeys struct {
	file  string
	check ssh.HostKeyCallback
	probe ssh.PublicKey // a key no known_hosts lists, to learn the known ones
}

func loadHostKeys(file string) (*hostKeys, error) {
	if file == "" {
		return nil, permanent(errors.New("no known_hosts file configured: host keys are always verified; " +
			"create one with `ssh-keyscan -p PORT HOST >> FILE` and set it"))
	}
	check, err := knownhosts.New(file)
	if err != nil {
		return nil, permanent(fmt.Errorf("read known_hosts %s: %w (create it with `ssh-keyscan -p PORT HOST >> %s`)", file, err, file))
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &hostKeys{file: file, check: check, probe: probe}, nil
}

// algorithms returns the host key algorithms to offer for address, from the
// key types known_hosts lists for it, so the server cannot pick a type whose
// key we do not know. Nil means unknown host (let the handshake fail with the
// offered key's fingerprint).
func (hk *hostKeys) algorithms(address string, remote net.Addr) []string {
	var ke *knownhosts.KeyError
	if !errors.As(hk.check(address, remote, hk.probe), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// callback verifies with known_hosts and turns failures into HostKeyError.
func (hk *hostKeys) callback(verified *atomic.Bool, fingerprint *string) ssh.HostKeyCallback {
	return func(address string, remote net.Addr, key ssh.PublicKey) error {
		err := hk.check(address, remote, key)
		if err == nil {
			*fingerprint = key.Type() + " " + ssh.FingerprintSHA256(key)
			verified.Store(true)
			return nil
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			he := &HostKeyError{
				Address:    address,
				KnownHosts: hk.file,
				Offered:    key.Type() + " " + ssh.FingerprintSHA256(key),
			}
			for _, w := range ke.Want {
				he.Known = append(he.Known, fmt.Sprintf("%s %s at %s:%d", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return permanent(he)
		}
		var re *knownhosts.RevokedError
		if errors.As(err, &re) {
			return permanent(fmt.Errorf("host key for %s is revoked in %s: %w", address, re.Revoked.String(), err))
		}
		return permanent(fmt.Errorf("verify host key for %s: %w", address, err))
	}
}

// signerCache parses each identity file once per run.
type signerCache struct {
	mu    gosync.Mutex
	files map[string]signerResult
}

type signerResult struct {
	signer ssh.Signer
	err    error
}

func (c *signerCache) load(file string) (ssh.Signer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.files[file]; ok {
		return r.signer, r.err
	}
	if c.files == nil {
		c.files = map[string]signerResult{}
	}
	var r signerResult
	data, err := os.ReadFile(file)
	if err != nil {
		r.err = permanent(fmt.Errorf("read identity file: %w", err))
	} else if r.signer, err = ssh.ParsePrivateKey(data); err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			err = fmt.Errorf("%w (the key is encrypted: load it into ssh-agent instead)", err)
		}
		r.err = permanent(fmt.Errorf("parse identity file %s: %w", file, err))
	}
	c.files[file] = r
	return r.signer, r.err
}

// sshConn is an authenticated SSH connection with keepalives, closed when
// the context it was dialled with is done.
type sshConn struct {
	*ssh.Client
	conn      *conn
	stopCtx   func() bool
	stopAlive chan struct{}
	wg        gosync.WaitGroup
	closeOnce gosync.Once
	hostKey   string // type and SHA256 fingerprint of the verified host key
}

// dialConfig is what dialSSH needs for one host.
type dialConfig struct {
	address  string // host:port
	user     string
	identity string // identity file, may be empty
	opts     SSHOptions
	hostKeys *hostKeys
	signers  *signerCache
}

// dialStage names the stage a connection failed in, for Check.
type dialStage string

const (
	stageConnect dialStage = "connect"
	stageHostKey dialStage = "host key"
	stageAuth    dialStage = "auth"
)

// dialError records the stage a dial failed in.
type dialError struct {
	stage dialStage
	err   error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dialSSH connects, verifies the host key and authenticates, all within the
// connect timeout.
func dialSSH(ctx context.Context, dc dialConfig) (*sshConn, error) {
	timeout := dc.opts.connectTimeout()
	if dc.user == "" {
		return nil, &dialError{stageAuth, permanent(errors.New("no SSH user configured"))}
	}
	var signers []ssh.Signer
	if dc.identity != "" {
		s, err := dc.signers.load(dc.identity)
		if err != nil {
			return nil, &dialError{stageAuth, err}
		}
		signers = append(signers, s)
	}
	var agentConn net.Conn
	if dc.opts.AgentSocket != "" {
		c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "unix", dc.opts.AgentSocket)
		if err != nil {
			if len(signers) == 0 {
				return nil, &dialError{stageAuth, permanent(fmt.Errorf("connect to ssh-agent %s: %w", dc.opts.AgentSocket, err))}
			}
		} else {
			agentConn = c
			defer agentConn.Close() // only needed during authentication
			as, err := agent.NewClient(c).Signers()
			if err == nil {
				signers = append(signers, as...)
			}
		}
	}
	if len(signers) == 0 {
		return nil, &dialError{stageAuth, permanent(errors.New("no SSH key: set an identity file or run ssh-agent (SSH_AUTH_SOCK)"))}
	}

	deadline := time.Now().Add(timeout)
	nc, err := (&net.Dialer{Deadline: deadline}).DialContext(ctx, "tcp", dc.address)
	if err != nil {
		return nil, &dialError{stageConnect, fmt.Errorf("connect to %s: %w", dc.address, err)}
	}
	conn := newConn(nc, dc.opts.ioTimeout(), deadline)
	stopCtx := context.AfterFunc(ctx, func() { conn.Close() })

	var verified atomic.Bool
	var fingerprint string
	cfg := &ssh.ClientConfig{
		User:              dc.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   dc.hostKeys.callback(&verified, &fingerprint),
		HostKeyAlgorithms: dc.hostKeys.algorithms(dc.address, nc.RemoteAddr()),
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, dc.address, cfg)
	if err != nil {
		stopCtx()
		conn.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, classifyHandshake(dc, err, verified.Load())
	}
	sc := &sshConn{Client: ssh.NewClient(c, chans, reqs), conn: conn, stopCtx: stopCtx, stopAlive: make(chan struct{}), hostKey: fingerprint}
	return sc, nil
}

func classifyHandshake(dc dialConfig, err error, verified bool) error {
	var he *HostKeyError
	switch {
	case errors.As(err, &he) || !verified && IsPermanent(err):
		return &dialError{stageHostKey, err}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &dialError{stageAuth, permanent(fmt.Errorf("%w as %s on %s: %v (is the public key in the user's authorized_keys?)", ErrAuth, dc.user, dc.address, err))}
	case strings.Contains(err.Error(), "no common algorithm for host key"):
		return &dialError{stageHostKey, permanent(fmt.Errorf("ssh handshake with %s: %w: the server offers no host key of a type known_hosts %s lists for it; "+
			"check the key with the server's administrator and add it with `ssh-keyscan`", dc.address, err, dc.hostKeys.file))}
	}
	return &dialError{stageConnect, fmt.Errorf("ssh handshake with %s: %w", dc.address, err)}
}

// ready ends the handshake phase: from now on every read and write gets the
// io timeout, and keepalives make sure a live server keeps answering.
func (c *sshConn) ready() {
	c.conn.endHandshake()
	interval := c.conn.ioTimeout / 3
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.stopAlive:
				return
			case <-t.C:
				// The reply (any reply) is read by the connection's reader,
				// which extends the read deadline; no reply within the io
				// timeout closes the connection.
				if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
					return
				}
			}
		}
	}()
}

// Close closes the connection and waits for the keepalive goroutine.
func (c *sshConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.stopCtx()
		close(c.stopAlive)
		err = c.Client.Close()
		c.wg.Wait()
	})
	return err
}
