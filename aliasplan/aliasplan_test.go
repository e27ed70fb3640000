package aliasplan_test

import (
	"bytes"
	"flag"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/aliasplan"
	"github.com/peoplesync/peoplesync/nidump"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

const passwd = `root:*:0:1::0:0:Operator:/:/bin/csh
jnewberg:*:1001:20::0:0:Julia Newberg:/Users/jnewberg:/bin/csh
ksmith:*:1002:30::0:0:Kim Smith:/Users/ksmith:/bin/csh
alice:*:1003:30::0:0:Alice:/Users/alice:/bin/csh
bob:*:1004:40::0:0:Bob:/Users/bob:/bin/csh
carol:*:1005:50::0:0:Carol:/Users/carol:/bin/csh
daemon:*:1:1::0:0:Daemon:/:/bin/false
`

func users(t *testing.T, s string) []nidump.PasswdEntry {
	t.Helper()
	r := nidump.NewPasswdReader(strings.NewReader(s), "passwd")
	var out []nidump.PasswdEntry
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

func plan(t *testing.T, assign string, opts aliasplan.Options) (*aliasplan.Plan, error) {
	t.Helper()
	a, err := aliasplan.ParseAssignment(strings.NewReader(assign), "assign")
	if err != nil {
		return nil, err
	}
	return a.Plan(users(t, passwd), opts)
}

func TestPlan(t *testing.T) {
	groups, err := aliasplan.ParseGroups(strings.NewReader("wheel:*:0:root\nstaff:*:30:\nsales:*:40:bob\n"), "group")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan(t, `# who gets mail where
earth: jnewberg, root   # explicit users, a system account too
venus: @staff @40
earth: alice            # a user named explicitly wins over her group
mars.example.com: *
`, aliasplan.Options{Groups: groups, MinUID: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []aliasplan.Route{
		{"root", "earth"}, {"jnewberg", "earth"}, {"ksmith", "venus"}, {"alice", "earth"}, {"bob", "venus"}, {"carol", "mars.example.com"},
	}
	if !reflect.DeepEqual(p.Routes, want) {
		t.Errorf("routes %v, want %v", p.Routes, want)
	}
	if len(p.Unassigned) != 0 || len(p.Warnings) != 0 {
		t.Errorf("unassigned %v, warnings %v", p.Unassigned, p.Warnings)
	}

	var buf bytes.Buffer
	aliasplan.WriteNiload(&buf, p.Routes[:2])
	if got := buf.String(); got != "root: root@earth\njnewberg: jnewberg@earth\n" {
		t.Errorf("niload %q", got)
	}
}

func TestPlanUnassignedAndWarnings(t *testing.T) {
	p, err := plan(t, "earth: jnewberg @99\n", aliasplan.Options{MinUID: 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ksmith", "alice", "bob", "carol"}; !reflect.DeepEqual(p.Unassigned, want) {
		t.Errorf("unassigned %v, want %v", p.Unassigned, want)
	}
	if want := []string{"assign:1: @99 assigns nobody to earth"}; !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings %v", p.Warnings)
	}
}

func TestAssignmentErrors(t *testing.T) {
	for _, tt := range []struct {
		name, assign, err string
	}{
		{"no colon", "earth jnewberg\n", `assign:1: "earth jnewberg": write ` + "`SERVER: user @group ...`"},
		{"nothing assigned", "earth:\n", `assign:1: no users or groups after "earth:"`},
		{"user twice", "earth: jnewberg\nvenus: ksmith, jnewberg\n", "assign:2: jnewberg is assigned to venus here and to earth on line 1: assign it to one server"},
		{"star twice", "earth: *\nvenus: *\n", "assign:2: * is assigned to venus here and to earth on line 1"},
		{"no such user", "earth: jnewberg\n\nvenus: jnewbreg\n", "assign:3: there is no user jnewbreg in passwd"},
		{"group name without a group file", "earth: @staff\n", "assign:1: @staff: a group name needs the group file (--group FILE"},
		{"bare @", "earth: @\n", "assign:1: '@' with no group after it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan(t, tt.assign, aliasplan.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestGroupsByNameAndNumberAgree(t *testing.T) {
	groups := aliasplan.Groups{"staff": "30"}
	_, err := plan(t, "earth: @staff\nvenus: @30\n", aliasplan.Options{Groups: groups})
	if err == nil || !strings.Contains(err.Error(), "assign:2: @30 (gid 30) is assigned to venus here and to earth on line 1") {
		t.Errorf("error %v", err)
	}
	_, err = plan(t, "earth: @sales\n", aliasplan.Options{Groups: groups})
	if err == nil || !strings.Contains(err.Error(), "assign:1: there is no group sales in the group file") {
		t.Errorf("error %v", err)
	}
}

func TestParseGroupsErrors(t *testing.T) {
	_, err := aliasplan.ParseGroups(strings.NewReader("staff:*:20:\nbad:*:x:\n"), "group")
	if err == nil || !strings.Contains(err.Error(), `group:2: gid "x" of group bad is not a number`) {
		t.Errorf("error %v", err)
	}
}

func TestWriteLDIF(t *testing.T) {
	var buf bytes.Buffer
	err := aliasplan.WriteLDIF(&buf, []aliasplan.Route{{"jnewberg", "earth"}, {"zoë", "venus"}, {"a,b", "earth"}}, "ou=aliases,dc=example,dc=com")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/routes.ldif", buf.Bytes())
	if err := aliasplan.WriteLDIF(&buf, nil, "not a dn"); err == nil {
		t.Error("a bad base was accepted")
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}
