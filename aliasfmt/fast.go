package aliasfmt

import (
	"bytes"

	"github.com/peoplesync/peoplesync/internal/swar"
	"github.com/peoplesync/peoplesync/nidump"
)

// fastChunk formats in, a run of whole entries, appending to w.buf, in one
// pass with no per-entry bookkeeping, when in holds only what nidump itself
// writes: LF line endings, no double quotes, no blank lines, wrapped lines
// that break after a comma, and no more than a line may hold. It reports
// false, leaving w as it was, at the first thing outside that form; the
// caller then formats the chunk with nidump.AliasReader, which defines the
// format (and reports its errors). FuzzFastChunk checks that the two agree
// whenever fastChunk accepts.
//
// It also returns the number of '\n' in in, which it counts on the way. It
// is for the parallel path, which has no stripped callback.
func (w *Writer) fastChunk(in []byte) (lines int, ok bool) {
	if len(in) >= nidump.MaxLine || bytes.IndexByte(in, '"') >= 0 || bytes.IndexByte(in, '\r') >= 0 {
		return 0, false
	}
	var (
		s       = w.s
		servers = len(s.short)+len(s.qualify) > 0
		grep    = s.mode == Grep
		out     = w.buf
		st      = w.stats

		entry    = -1    // where the entry being written starts in out; -1: none yet
		members  = 0     // its members so far
		routing  = 0     // those that are local@SERVER
		stripped = false // grep mode: a routing member was seen
		open     = false // the last line ended inside a member, not after a comma
	)
	// finish ends the entry being written.
	finish := func() {
		switch {
		case entry < 0:
		case members == 0:
			// No members: dropped, as the reader does.
			out = out[:entry]
		case stripped || routing == members:
			out = out[:entry]
			st.Read++
			st.Stripped++
		default:
			out = append(out, '\n')
			st.Read++
			st.Written++
			if routing > 0 {
				st.Rewritten++
			}
		}
	}
	for i := 0; i < len(in); lines++ {
		switch c := in[i]; {
		case c == '#':
			// A comment: skipped, the entry goes on.
			if nl := bytes.IndexByte(in[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(in)
			}
			continue
		case c == ' ' || c == '\t':
			// A continuation: joined to the entry, which must have ended
			// its last line after a comma (else a member would span the
			// break).
			if entry < 0 || open {
				return 0, false
			}
			for i < len(in) && (in[i] == ' ' || in[i] == '\t') {
				i++
			}
			if i == len(in) || nidump.IsSpace(in[i]) {
				return 0, false // a blank line
			}
		case nidump.IsSpace(c):
			return 0, false // a blank line, or one starting with \v or \f
		default:
			finish()
			colon := swar.Index2(in[i:], ':', '\n')
			if colon < 0 || in[i+colon] != ':' {
				return 0, false // no colon: an error the reader reports
			}
			end := i + colon
			for end > i && (in[end-1] == ' ' || in[end-1] == '\t') {
				end--
			}
			if end == i {
				return 0, false // an empty name
			}
			entry = len(out)
			out = append(out, in[i:end]...)
			out = append(out, ':', ' ')
			members, routing, stripped = 0, 0, false
			i += colon + 1
		}
		// The members on this line, up to its end.
		for {
			// The member ends at a ',' or the line's end; its last '@', if
			// any, is noted on the way.
			at := -1
			j := swar.Index3(in[i:], ',', '\n', '@')
			for j >= 0 && in[i+j] == '@' {
				at = j
				if j = swar.Index3(in[i+at+1:], ',', '\n', '@'); j >= 0 {
					j += at + 1
				}
			}
			if j < 0 {
				j = len(in) - i
			}
			last := i+j == len(in) || in[i+j] == '\n'
			m := in[i : i+j]
			i = min(i+j+1, len(in))
			for len(m) > 0 && nidump.IsSpace(m[0]) {
				m = m[1:]
				at-- // at counts from the start of m
			}
			for len(m) > 0 && nidump.IsSpace(m[len(m)-1]) {
				m = m[:len(m)-1]
			}
			if last {
				open = len(m) > 0
			}
			if len(m) > 0 && !stripped {
				members++
				if servers && at >= 0 {
					if n := s.routingAt(m, at); n >= 0 {
						routing++
						stripped = grep
						m = m[:n]
					}
				}
				if members > 1 {
					out = append(out, ',')
				}
				out = append(out, m...)
			}
			if last {
				break
			}
		}
	}
	finish()
	w.buf, w.stats = out, st
	if len(in) > 0 && in[len(in)-1] != '\n' {
		lines-- // the last line has no '\n'
	}
	return lines, true
}
