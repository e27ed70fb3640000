package source

import (
	"context"
	"fmt"
	"io"

	"github.com/peoplesync/peoplesync/nidump"
)

// Format is the text form a dump file or command writes.
type Format string

// The dump formats.
const (
	// Nidump is `nidump passwd` and `nidump aliases` output (or aliases(5)
	// and passwd files). It is the default.
	Nidump Format = ""
	// Raw is `nidump -r /users DOMAIN` and `nidump -r /aliases DOMAIN`
	// output, which keeps every value exactly, commas included.
	Raw Format = "raw"
)

// readPasswd streams the users in r, written in format f, to fn.
func (f Format) readPasswd(ctx context.Context, r io.Reader, name string, fn func(nidump.PasswdEntry) error) error {
	switch f {
	case Nidump:
		return eachPasswd(ctx, r, name, fn)
	case Raw:
		n := 0
		return nidump.ReadRawPasswd(r, name, func(e nidump.PasswdEntry) error {
			if n++; n%ctxCheckEvery == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			return fn(e)
		})
	}
	return fmt.Errorf("unknown dump format %q", string(f))
}

// readAliases streams the aliases in r, written in format f, to fn.
func (f Format) readAliases(ctx context.Context, r io.Reader, name string, fn func(nidump.Alias) error) error {
	switch f {
	case Nidump:
		return eachAlias(ctx, r, name, fn)
	case Raw:
		n := 0
		return nidump.ReadRawAliases(r, name, func(a nidump.Alias) error {
			if n++; n%ctxCheckEvery == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			return fn(a)
		})
	}
	return fmt.Errorf("unknown dump format %q", string(f))
}
