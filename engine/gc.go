package engine

import (
	"os"
	"runtime/debug"
)

// TuneGC sets the garbage collector for how Lifebelt uses memory: a small
// live heap (a few MB: images stream to the journal and are not kept) but
// a fast allocation rate while a large statement is imaged. With Go's
// default (a collection each time the heap doubles) a 100,000-row
// statement runs dozens of collections that compete with the capture for
// the CPU; at 400 the heap may grow to five times the live data before a
// collection, which cut a guarded 100,000-row DELETE on SQLite by about a
// third here. The soft memory limit keeps the collector working harder
// again should the heap ever approach it. Settings made through the GOGC
// and GOMEMLIMIT environment variables win. The program calls this once at
// start (main); the session benchmarks call it too, so they measure the
// program as it runs.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
