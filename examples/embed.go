// Package examples carries the bundled example mail domain (passwd,
// aliases with nidump-wrapped long aliases and routing aliases, pictures)
// that `peoplesync demo` runs on, so the demo needs no files beside the
// binary.
package examples

import "embed"

// Domain holds domain/passwd, domain/aliases and domain/pictures/.
//
//go:embed domain
var Domain embed.FS
