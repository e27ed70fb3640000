package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	File string
	Line int    // 0 when the problem has no single line (a missing key)
	Key  string // dotted key path, e.g. "people.max_shrink"; may be empty
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		fmt.Fprintf(&b, "%s: ", p.Key)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in a config file, reported at once.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems in the config:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// IsConfigError reports whether err is (or wraps) a config *Error.
func IsConfigError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// decoder turns the generic TOML document into typed values, collecting
// every problem with its line rather than stopping at the first, and
// remembering which keys were read so that the rest can be reported as
// unknown.
type decoder struct {
	file  string
	dir   string         // the config file's directory, for relative paths
	lines map[string]int // dotted key path (array elements by index) -> line
	known map[string]map[string]bool
	probs []Problem
}

// table is one TOML table and its dotted path ("" for the document).
type table struct {
	path string
	m    map[string]any
}

func (t table) key(k string) string {
	if t.path == "" {
		return k
	}
	return t.path + "." + k
}

func newDecoder(file string, data []byte) (*decoder, table, error) {
	d := &decoder{file: file, dir: filepath.Dir(file), lines: map[string]int{}, known: map[string]map[string]bool{}}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, table{}, &Error{Problems: []Problem{{File: file, Line: row, Key: strings.Join(de.Key(), "."), Msg: "TOML syntax: " + de.Error()}}}
		}
		return nil, table{}, &Error{Problems: []Problem{{File: file, Msg: "TOML syntax: " + err.Error()}}}
	}
	d.indexLines(data)
	return d, table{m: doc}, nil
}

// indexLines maps every key path to the line it is written on.
func (d *decoder) indexLines(data []byte) {
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		var parts []string
		line := 0
		it := e.Key()
		for it.Next() {
			n := it.Node()
			parts = append(parts, string(n.Data))
			if line == 0 {
				line = p.Shape(n.Raw).Start.Line
			}
		}
		switch e.Kind {
		case unstable.Table:
			prefix = parts
			d.lines[strings.Join(prefix, ".")] = line
		case unstable.ArrayTable:
			name := strings.Join(parts, ".")
			i := arrays[name]
			arrays[name] = i + 1
			prefix = append(parts, strconv.Itoa(i))
			d.lines[name] = line
			d.lines[strings.Join(prefix, ".")] = line
		case unstable.KeyValue:
			full := append(append([]string(nil), prefix...), parts...)
			for i := len(prefix) + 1; i <= len(full); i++ {
				k := strings.Join(full[:i], ".")
				if _, ok := d.lines[k]; !ok {
					d.lines[k] = line
				}
			}
		}
	}
}

// line returns the line of a key path, or of its nearest written parent.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (d *decoder) problem(path, format string, args ...any) {
	d.probs = append(d.probs, Problem{File: d.file, Line: d.line(path), Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) markKnown(t table, key string) {
	if d.known[t.path] == nil {
		d.known[t.path] = map[string]bool{}
	}
	d.known[t.path][key] = true
}

// get returns the raw value of t.key, marking the key as known.
func (d *decoder) get(t table, key string) (any, bool) {
	d.markKnown(t, key)
	if t.m == nil {
		return nil, false
	}
	v, ok := t.m[key]
	return v, ok
}

// required reports a missing key; a key that is present but wrong was
// reported already.
func (d *decoder) required(t table, key, hint string) {
	if _, present := t.m[key]; present {
		return
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: d.line(t.path), Key: t.key(key), Msg: "required key is missing: " + hint})
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func (d *decoder) str(t table, key string, dst *string) bool {
	v, ok := d.get(t, key)
	if !ok {
		return false
	}
	s, isStr := v.(string)
	if !isStr {
		d.problem(t.key(key), "want a string (in double quotes), got %s", typeName(v))
		return false
	}
	*dst = s
	return true
}

// path reads a file or directory path; a relative one is taken relative to
// the config file's directory.
func (d *decoder) path(t table, key string, dst *string) bool {
	var s string
	if !d.str(t, key, &s) {
		return false
	}
	if s == "" {
		d.problem(t.key(key), "empty path: give a path, or remove the key")
		return false
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(d.dir, s)
	}
	*dst = filepath.Clean(s)
	return true
}

func (d *decoder) oneOf(t table, key string, dst *string, choices ...string) bool {
	var s string
	if !d.str(t, key, &s) {
		return false
	}
	for _, c := range choices {
		if s == c {
			*dst = s
			return true
		}
	}
	d.problem(t.key(key), "%q is not one of %s", s, quoteList(choices))
	return false
}

func (d *decoder) strList(t table, key string, dst *[]string) bool {
	v, ok := d.get(t, key)
	if !ok {
		return false
	}
	arr, isArr := v.([]any)
	if !isArr {
		d.problem(t.key(key), `want an array of strings, like ["a", "b"], got %s`, typeName(v))
		return false
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, isStr := e.(string)
		if !isStr {
			d.problem(t.key(key), "element %d: want a string, got %s", i+1, typeName(e))
			return false
		}
		out = append(out, s)
	}
	*dst = out
	return true
}

func (d *decoder) boolean(t table, key string, dst *bool) bool {
	v, ok := d.get(t, key)
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		d.problem(t.key(key), "want true or false (no quotes), got %s", typeName(v))
		return false
	}
	*dst = b
	return true
}

func (d *decoder) integer(t table, key string, dst *int, min, max int) bool {
	v, ok := d.get(t, key)
	if !ok {
		return false
	}
	n, isInt := v.(int64)
	if !isInt {
		d.problem(t.key(key), "want a whole number, got %s", typeName(v))
		return false
	}
	if n < int64(min) || n > int64(max) {
		d.problem(t.key(key), "%d is out of range: use %d to %d", n, min, max)
		return false
	}
	*dst = int(n)
	return true
}

func (d *decoder) fraction(t table, key string, dst *float64) bool {
	v, ok := d.get(t, key)
	if !ok {
		return false
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int64:
		f = float64(n)
	default:
		d.problem(t.key(key), "want a number from 0 to 1, got %s", typeName(v))
		return false
	}
	if math.IsNaN(f) || f < 0 || f > 1 {
		d.problem(t.key(key), "%v is out of range: use a number from 0 to 1 (0.5 refuses a dump with less than half the installed entries)", f)
		return false
	}
	*dst = f
	return true
}

func (d *decoder) duration(t table, key string, dst *time.Duration) bool {
	var s string
	if !d.str(t, key, &s) {
		return false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.problem(t.key(key), "%q is not a duration: write it like \"90s\", \"10m\" or \"1h30m\"", s)
		return false
	}
	if v <= 0 {
		d.problem(t.key(key), "%q must be positive", s)
		return false
	}
	*dst = v
	return true
}

// sub returns the sub-table t.key (absent: an empty table).
func (d *decoder) sub(t table, key string) table {
	v, ok := d.get(t, key)
	if !ok {
		return table{path: t.key(key)}
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		d.problem(t.key(key), "want a table ([%s]), got %s", t.key(key), typeName(v))
		return table{path: t.key(key)}
	}
	return table{path: t.key(key), m: m}
}

// tables returns the array of tables t.key ([[key]]).
func (d *decoder) tables(t table, key string) []table {
	v, ok := d.get(t, key)
	if !ok {
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		d.problem(t.key(key), "want an array of tables ([[%s]]), got %s", t.key(key), typeName(v))
		return nil
	}
	var out []table
	for i, e := range arr {
		m, isMap := e.(map[string]any)
		if !isMap {
			d.problem(t.key(key), "element %d: want a table, got %s", i+1, typeName(e))
			continue
		}
		out = append(out, table{path: fmt.Sprintf("%s.%d", t.key(key), i), m: m})
		// Keys in array elements are known per element path.
	}
	return out
}

// unknown reports every key of t (recursively) that was never asked for.
func (d *decoder) unknown(t table) {
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return d.line(t.key(keys[i])) < d.line(t.key(keys[j])) })
	for _, k := range keys {
		known := d.known[t.path]
		if !known[k] {
			d.problem(t.key(k), "unknown key%s", suggest(k, known, t.path))
			continue
		}
		switch v := t.m[k].(type) {
		case map[string]any:
			if _, ok := d.known[t.key(k)]; ok {
				d.unknown(table{path: t.key(k), m: v})
			}
		case []any:
			for i, e := range v {
				p := fmt.Sprintf("%s.%d", t.key(k), i)
				if m, ok := e.(map[string]any); ok {
					if _, ok := d.known[p]; ok {
						d.unknown(table{path: p, m: m})
					}
				}
			}
		}
	}
}

func suggest(k string, known map[string]bool, path string) string {
	names := make([]string, 0, len(known))
	best, bestDist := "", 3
	for n := range known {
		names = append(names, n)
		if dist := editDistance(strings.ToLower(k), n); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	sort.Strings(names)
	where := "at the top level"
	if path != "" {
		where = "in [" + trimIndex(path) + "]"
	}
	s := ""
	if best != "" {
		s = fmt.Sprintf(": did you mean %q?", best)
	} else {
		s = ": remove it or fix its spelling."
	}
	if len(names) > 0 {
		s += fmt.Sprintf(" Known keys %s: %s", where, strings.Join(names, ", "))
	}
	return s
}

// trimIndex turns "server.2" into "server".
func trimIndex(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
