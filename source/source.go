// Package source reads a mail domain's users and aliases from where the
// site keeps them: dump files or a command such as nidump (and, through the
// same interface, a directory server). Records are streamed to a callback,
// so a domain of any size is read in bounded memory.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peoplesync/peoplesync/nidump"
)

// Source is a mail domain's passwd and alias data. The maildb job calls
// Passwd and Aliases at the same time.
type Source interface {
	// Passwd calls fn with every user in the domain, in the domain's order.
	// It stops at the first error, from the source or from fn.
	Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error
	// Aliases calls fn with every alias in the domain, in the domain's
	// order, long aliases already joined. It stops at the first error.
	Aliases(ctx context.Context, fn func(nidump.Alias) error) error
	// String describes the source for logs and errors.
	String() string
}

// Files reads `nidump passwd` and `nidump aliases` output, or aliases(5),
// saved in files.
type Files struct {
	PasswdPath  string
	AliasesPath string
	// Format is the files' form (default Nidump).
	Format Format
}

var _ Source = Files{}

// Passwd implements Source.
func (f Files) Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error {
	return readFile(ctx, f.PasswdPath, func(r io.Reader) error { return f.Format.readPasswd(ctx, r, f.PasswdPath, fn) })
}

// Aliases implements Source.
func (f Files) Aliases(ctx context.Context, fn func(nidump.Alias) error) error {
	return readFile(ctx, f.AliasesPath, func(r io.Reader) error { return f.Format.readAliases(ctx, r, f.AliasesPath, fn) })
}

func (f Files) String() string { return fmt.Sprintf("files %s and %s", f.PasswdPath, f.AliasesPath) }

func readFile(ctx context.Context, path string, read func(io.Reader) error) error {
	file, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: the file does not exist: check [source] in the config", path)
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer file.Close()
	if fi, err := file.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("read %s: is a directory: [source] passwd and aliases name files", path)
	}
	return read(file)
}

// ctxCheckEvery bounds how many records pass between context checks.
const ctxCheckEvery = 4096

func eachPasswd(ctx context.Context, r io.Reader, name string, fn func(nidump.PasswdEntry) error) error {
	pr := nidump.NewPasswdReader(r, name)
	for n := 0; ; n++ {
		if n%ctxCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func eachAlias(ctx context.Context, r io.Reader, name string, fn func(nidump.Alias) error) error {
	ar := nidump.NewAliasReader(r, name)
	for n := 0; ; n++ {
		if n%ctxCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		a, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
}
