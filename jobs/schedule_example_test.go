package jobs_test

import (
	"fmt"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// On the day New York springs forward, 02:30 does not exist: a job due
// then runs once, right after the jump. An hourly job follows real time.
func ExampleSchedule_Next() {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	from := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	for _, expr := range []string{"30 2 * * *", "0 * * * *", "CRON_TZ=Europe/Berlin @daily"} {
		s, err := jobs.ParseSchedule(expr, ny)
		if err != nil {
			panic(err)
		}
		fmt.Println(expr)
		for _, t := range s.NextN(from, 3) {
			fmt.Println(" ", t.Format(time.RFC3339))
		}
	}
	// Output:
	// 30 2 * * *
	//   2026-03-08T03:00:00-04:00
	//   2026-03-09T02:30:00-04:00
	//   2026-03-10T02:30:00-04:00
	// 0 * * * *
	//   2026-03-08T01:00:00-05:00
	//   2026-03-08T03:00:00-04:00
	//   2026-03-08T04:00:00-04:00
	// CRON_TZ=Europe/Berlin @daily
	//   2026-03-09T00:00:00+01:00
	//   2026-03-10T00:00:00+01:00
	//   2026-03-11T00:00:00+01:00
}
