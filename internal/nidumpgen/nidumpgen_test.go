package nidumpgen_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/internal/nidumpgen"
	"github.com/peoplesync/peoplesync/nidump"
)

// The example from the formats reference, computed by the wrapping rule.
func TestWrapRule(t *testing.T) {
	got := string(nidumpgen.AppendAlias(nil, "staff", []string{
		"user01@mail.example.com", "user02@mail.example.com", "user03@mail.example.com",
		"user04@mail.example.com", "user05@mail.example.com"}))
	want := "staff: user01@mail.example.com,user02@mail.example.com,\n" +
		"\tuser03@mail.example.com,user04@mail.example.com,\n" +
		"\tuser05@mail.example.com\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	long := strings.Repeat("x", 80)
	if got := string(nidumpgen.AppendAlias(nil, "big", []string{long, "b"})); got != "big: \n\t"+long+",\n\tb\n" {
		t.Errorf("first member too long: %q", got)
	}
	for _, line := range strings.Split(want, "\n") {
		if w := len(strings.ReplaceAll(line, "\t", "        ")); w > nidumpgen.MaxLineLen {
			t.Errorf("line %q is %d columns", line, w)
		}
	}
}

// What the generator writes, the reader reads back whole.
func TestGeneratedDomainParses(t *testing.T) {
	d := nidumpgen.Domain{Users: 50, Lists: 5, Members: 40, Servers: []string{"earth", "venus"}}
	var buf bytes.Buffer
	n, err := d.WriteAliases(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",\n\t") {
		t.Fatal("no wrapped alias generated")
	}
	r := nidump.NewAliasReader(&buf, "gen")
	count := 0
	for {
		a, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(a.Name, "list") && len(a.Members) != 40 {
			t.Fatalf("%s has %d members", a.Name, len(a.Members))
		}
		count++
	}
	if count != n {
		t.Errorf("read %d entries, wrote %d", count, n)
	}
	var pw bytes.Buffer
	d.WritePasswd(&pw)
	e, err := nidump.NewPasswdReader(&pw, "").Next()
	if err != nil || e.Form != nidump.Form10 || !reflect.DeepEqual(e.Name, "user0000000") {
		t.Errorf("passwd: %+v, %v", e, err)
	}
}
