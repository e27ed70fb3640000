package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Errors a host can fail with. Test them with errors.Is.
var (
	// ErrHostKeyUnknown: the server's address is not in known_hosts.
	ErrHostKeyUnknown = errors.New("unknown host key")
	// ErrHostKeyChanged: known_hosts has a different key for the server.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrAuth: the server accepted none of the keys offered.
	ErrAuth = errors.New("authentication failed")
	// ErrNoPosixRename: the SFTP server lacks posix-rename@openssh.com, so
	// files cannot be replaced atomically.
	ErrNoPosixRename = errors.New("SFTP server lacks the posix-rename@openssh.com extension")
	// ErrNoSpace: the server's file system is full.
	ErrNoSpace = errors.New("no space left on the server")
	// ErrReadOnly: the server's file system is mounted read-only.
	ErrReadOnly = errors.New("the server's file system is read-only")
	// ErrTooManyDeletes: more deletions than Options.MaxDelete; none done.
	ErrTooManyDeletes = errors.New("too many deletions")
	// ErrSourceMissing: the local People directory does not exist.
	ErrSourceMissing = errors.New("source directory missing")
	// ErrSourceEmpty: the local People directory has no files while
	// deletions are on.
	ErrSourceEmpty = errors.New("source directory empty")
	// ErrSpecialFailed: a special command exited non-zero.
	ErrSpecialFailed = errors.New("special command failed")
	// ErrSourceChanged: a local file changed size while it was sent.
	ErrSourceChanged = errors.New("local file changed while it was sent")
	// ErrTypeConflict: a path is a directory on one side and a file on the
	// other.
	ErrTypeConflict = errors.New("file/directory conflict")
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err as not worth retrying.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether retrying the operation that returned err cannot
// help: a host key or authentication problem, permission denied, a full or
// read-only disk, a server lacking posix-rename or exec, a failed special,
// too many deletions, a bad configuration, or a cancelled run. Connection
// errors (refused, reset, timed out, dropped) are transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var pe *permanentError
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pe), errors.As(err, &ke), errors.As(err, &re):
		return true
	case errors.Is(err, context.Canceled):
		return true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return true
	}
	for _, target := range []error{
		ErrHostKeyUnknown, ErrHostKeyChanged, ErrAuth, ErrNoPosixRename, ErrNoExec,
		ErrNoSpace, ErrReadOnly, ErrTooManyDeletes, ErrSourceMissing, ErrSourceEmpty,
		ErrSpecialFailed, ErrTypeConflict, fs.ErrPermission,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxPermissionDenied, sftp.ErrSSHFxOpUnsupported:
			return true
		}
	}
	return false
}

// isConnectionError reports whether err means the connection (not just one
// file) failed, so the rest of the attempt cannot go on.
func isConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var se *sftp.StatusError
	switch {
	case errors.Is(err, sftp.ErrSSHFxConnectionLost), errors.Is(err, net.ErrClosed),
		errors.As(err, &ne), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &se):
		return se.FxCode() == sftp.ErrSSHFxConnectionLost || se.FxCode() == sftp.ErrSSHFxNoConnection
	}
	msg := err.Error()
	return strings.Contains(msg, "EOF") || strings.Contains(msg, "connection lost") ||
		strings.Contains(msg, "use of closed") || strings.Contains(msg, "broken pipe")
}

// HostKeyError is the error for a host whose key could not be verified.
// errors.Is matches it with ErrHostKeyUnknown or ErrHostKeyChanged.
type HostKeyError struct {
	// Address is the host:port dialled.
	Address string
	// KnownHosts is the known_hosts file consulted.
	KnownHosts string
	// Offered is the key type and SHA256 fingerprint the server presented.
	Offered string
	// Known lists the known_hosts entries for the host (file:line), empty
	// when the host is unknown.
	Known []string
}

func (e *HostKeyError) Error() string {
	host, port, err := net.SplitHostPort(e.Address)
	if err != nil {
		host, port = e.Address, "22"
	}
	scan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, e.KnownHosts)
	if len(e.Known) == 0 {
		return fmt.Sprintf("unknown host key for %s (server offers %s): check the fingerprint with the server's administrator "+
			"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server), then add the key with `%s`",
			e.Address, e.Offered, scan)
	}
	return fmt.Sprintf("host key for %s has CHANGED (server offers %s, known_hosts has %s): someone may be intercepting the connection; "+
		"if the change is expected, check the new fingerprint with the server's administrator, remove the old entry with "+
		"`ssh-keygen -R %s -f %s` and add the new key with `%s`",
		e.Address, e.Offered, strings.Join(e.Known, ", "), knownhosts.Normalize(e.Address), e.KnownHosts, scan)
}

// Is matches ErrHostKeyUnknown or ErrHostKeyChanged.
func (e *HostKeyError) Is(target error) bool {
	if len(e.Known) == 0 {
		return target == ErrHostKeyUnknown
	}
	return target == ErrHostKeyChanged
}
