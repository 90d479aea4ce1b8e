//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user + system): on a busy machine it
// measures a statement's work far more steadily than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
