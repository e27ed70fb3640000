package aliasfmt_test

import (
	"os"
	"strings"

	"github.com/peoplesync/peoplesync/aliasfmt"
)

// The article's pipeline, `nidump aliases /mail | grep -v "@earth"`, done on
// whole entries: the wrapped alias is joined, the routing alias stripped and
// the routing member of staff made local.
func ExampleFormat() {
	dump := "jnewberg: jnewberg@earth\n" +
		"Julia_Newberg: jnewberg\n" +
		"staff: jnewberg@earth,alice,\n" +
		"\tbob@earthling\n"
	aliasfmt.Format(strings.NewReader(dump), os.Stdout, "nidump aliases /mail",
		aliasfmt.Options{MailServers: []string{"earth"}}, nil)
	// Output:
	// Julia_Newberg: jnewberg
	// staff: jnewberg,alice,bob@earthling
}
