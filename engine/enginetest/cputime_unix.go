//go:build unix

package enginetest

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user and system). On a
// loaded machine it shows what the client itself spent, which wall time
// cannot; for PostgreSQL the server's share is not in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
