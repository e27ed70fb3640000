package aliasfmt_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/aliasfmt"
	"github.com/peoplesync/peoplesync/nidump"
)

func TestIsServer(t *testing.T) {
	s, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: []string{"earth", "server1", "mx.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"earth": true, "EARTH": true, "earth.example.com": true, "Earth.": true,
		"earthling": false, "notearth": false, "earth2": false, "": false,
		"server1": true, "server10": false, "server1.lan": true,
		"mx.example.org": true, "MX.Example.Org": true, "mx.example.org.": true,
		"mx": false, "mx.example.org.evil": false,
	} {
		if got := s.IsServer(host); got != want {
			t.Errorf("IsServer(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	servers := []string{"earth", "venus"}
	tests := []struct {
		mode    aliasfmt.Mode
		members []string
		want    []string // nil: stripped
		action  aliasfmt.Action
	}{
		{aliasfmt.Routing, []string{"jnewberg@earth"}, nil, aliasfmt.Stripped},
		{aliasfmt.Routing, []string{"a@earth", "b@Venus.example.com"}, nil, aliasfmt.Stripped},
		{aliasfmt.Routing, []string{"a@earth", "b"}, []string{"a", "b"}, aliasfmt.Rewritten},
		{aliasfmt.Routing, []string{"a@earthling", "b@server10"}, []string{"a@earthling", "b@server10"}, aliasfmt.Kept},
		{aliasfmt.Routing, []string{"|/bin/x a@earth", "/tmp/a@earth", ":include:/x@earth", `"a b"@earth`}, []string{"|/bin/x a@earth", "/tmp/a@earth", ":include:/x@earth", `"a b"@earth`}, aliasfmt.Kept},
		{aliasfmt.Routing, []string{"@earth", "a@"}, []string{"@earth", "a@"}, aliasfmt.Kept},
		{aliasfmt.Grep, []string{"a", "b@earth"}, nil, aliasfmt.Stripped},
		{aliasfmt.Grep, []string{"a", "b@earth2"}, []string{"a", "b@earth2"}, aliasfmt.Kept},
	}
	for _, tt := range tests {
		s, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: servers, Mode: tt.mode})
		if err != nil {
			t.Fatal(err)
		}
		in := nidump.Alias{Name: "x", Members: append([]string(nil), tt.members...)}
		got, action := s.Apply(in)
		if action != tt.action {
			t.Errorf("%s %q: action %v, want %v", tt.mode, tt.members, action, tt.action)
		}
		if tt.want != nil && !reflect.DeepEqual(got.Members, tt.want) {
			t.Errorf("%s %q: members %q, want %q", tt.mode, tt.members, got.Members, tt.want)
		}
		if !reflect.DeepEqual(in.Members, tt.members) {
			t.Errorf("Apply modified its argument: %q", in.Members)
		}
	}
}

func TestNoServersOnlyNormalizes(t *testing.T) {
	var out bytes.Buffer
	st, err := aliasfmt.Format(strings.NewReader("a: x@earth\nb: c,\n\td\n"), &out, "", aliasfmt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "a: x@earth\nb: c,d\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if st != (aliasfmt.Stats{Read: 2, Written: 2}) {
		t.Errorf("stats %+v", st)
	}
}

func TestFormatReportsStripped(t *testing.T) {
	var stripped []string
	var out bytes.Buffer
	st, err := aliasfmt.Format(strings.NewReader("jnewberg: jnewberg@earth\nstaff: jnewberg@earth,bob\n"), &out, "",
		aliasfmt.Options{MailServers: []string{"earth"}}, func(a nidump.Alias) { stripped = append(stripped, a.Name) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripped, []string{"jnewberg"}) || st.Stripped != 1 || st.Rewritten != 1 || st.Written != 1 {
		t.Errorf("stripped %q, stats %+v", stripped, st)
	}
}

func TestFormatErrorNamesLine(t *testing.T) {
	_, err := aliasfmt.Format(strings.NewReader("a: b\nbroken line\n"), &bytes.Buffer{}, "nidump aliases /mail", aliasfmt.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "nidump aliases /mail:2:") {
		t.Errorf("error = %v, want one naming line 2", err)
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := aliasfmt.NewStripper(aliasfmt.Options{Mode: "sed"}); err == nil || !strings.Contains(err.Error(), `"routing" or "grep"`) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := aliasfmt.NewStripper(aliasfmt.Options{MailServers: []string{"a@b"}}); err == nil {
		t.Error("a server name with @ was accepted")
	}
}

// A write error stops Format, and its reading goroutine, at once.
func TestFormatWriteError(t *testing.T) {
	var in strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&in, "a%d: b,c\n", i)
	}
	_, err := aliasfmt.Format(strings.NewReader(in.String()), failingWriter{}, "", aliasfmt.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error = %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
