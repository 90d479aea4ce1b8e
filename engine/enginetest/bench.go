package enginetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebelt/engine"
)

// Bench measures guarded statements against the same statements run bare
// (through Harness.Open, with the same durability) on the same server in
// the same run, and reports both and their ratio:
//
//   - Delete100k, Update100k: one statement changing 100,000 rows;
//   - UpdateOneRow: a single-row UPDATE, the added latency in µs;
//   - UndoDelete100k: undoing the 100,000-row DELETE, against the bare DELETE
//     and against the server re-inserting the same rows from a copy by
//     itself (INSERT ... SELECT), the floor of any undo;
//   - Delete1MMemory: peak Go heap in use, and the process RSS and its
//     growth, during a guarded 1,000,000-row DELETE (target: at most
//     300 MB). RSS includes SQLite's page caches (the journal's is 64 MB)
//     and, for SQLite targets, the target's; the Go heap does not.
//
// ns/op is the guarded side only; setup and the bare side run with the
// timer stopped.
func Bench(b *testing.B, h Harness) {
	checkHarness(b, h)
	gc := debug.SetGCPercent(100) // only reads: restored at once
	debug.SetGCPercent(gc)
	limit := debug.SetMemoryLimit(-1) // a negative limit only reads
	engine.TuneGC()                   // as the program does at start
	defer func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}()
	b.Run("Delete100k", func(b *testing.B) {
		benchBulk(b, h, 100_000, "DELETE FROM %s WHERE id > 0", true)
	})
	b.Run("Update100k", func(b *testing.B) {
		benchBulk(b, h, 100_000, "UPDATE %s SET n = n + 1 WHERE id > 0", false)
	})
	b.Run("UpdateOneRow", func(b *testing.B) { benchOneRow(b, h) })
	b.Run("UndoDelete100k", func(b *testing.B) { benchUndo(b, h, 100_000) })
	b.Run("Delete1MMemory", func(b *testing.B) { benchMemory(b, h, 1_000_000) })
}

// benchEnv is a target with a bare table and a guarded table of the same shape.
type benchEnv struct {
	b   *testing.B
	ctx context.Context
	db  *sql.DB
	s   *engine.Session
}

const (
	bareTable    = "bare_t"
	guardedTable = "guarded_t"
)

func newBenchEnv(b *testing.B, h Harness) *benchEnv {
	b.Helper()
	b.StopTimer()
	target := h.NewTarget(b)
	be := &benchEnv{b: b, ctx: context.Background(), db: h.Open(b, target)}
	for _, tb := range []string{bareTable, guardedTable} {
		be.exec("CREATE TABLE " + tb + " (id integer PRIMARY KEY, v text NOT NULL, n integer NOT NULL)")
	}
	jpath := filepath.Join(b.TempDir(), "bench.lifebelt")
	s, err := openSession(be.ctx, target, jpath)
	if err != nil {
		b.Fatalf("opening a session: %v", err)
	}
	be.s = s
	b.Cleanup(func() { s.Close() })
	return be
}

func (be *benchEnv) exec(q string) time.Duration {
	be.b.Helper()
	start := time.Now()
	if _, err := be.db.ExecContext(be.ctx, q); err != nil {
		be.b.Fatalf("%s: %v", q, err)
	}
	return time.Since(start)
}

// fill replaces the table's rows by ids 1..n.
func (be *benchEnv) fill(table string, n int) {
	be.b.Helper()
	be.exec("DELETE FROM " + table)
	be.exec(fmt.Sprintf(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)
		INSERT INTO %s (id, v, n) SELECT x, 'value number ' || x || ' of the benchmark', x FROM c`, n, table))
}

// guarded runs and commits one statement through the session.
func (be *benchEnv) guarded(q string) (time.Duration, *engine.Pending) {
	be.b.Helper()
	start := time.Now()
	p, err := be.s.Execute(be.ctx, q, engine.ExecuteOptions{Confirm: be.s.ConfirmName()})
	if err != nil {
		be.b.Fatalf("Execute(%s): %v", q, err)
	}
	if err := p.Commit(be.ctx); err != nil {
		be.b.Fatalf("Commit(%s): %v", q, err)
	}
	return time.Since(start), p
}

func report(b *testing.B, guarded, bare time.Duration, unit string, scale float64) {
	n := float64(b.N)
	g := float64(guarded) / n / scale
	r := float64(bare) / n / scale
	b.ReportMetric(g, "guarded-"+unit+"/op")
	b.ReportMetric(r, "bare-"+unit+"/op")
	if r > 0 {
		b.ReportMetric(g/r, "guarded/bare")
	}
}

func benchBulk(b *testing.B, h Harness, rows int, stmt string, refill bool) {
	be := newBenchEnv(b, h)
	be.fill(bareTable, rows)
	be.fill(guardedTable, rows)
	var bare, guarded, bareCPU, guardedCPU time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		if refill && i > 0 {
			be.fill(bareTable, rows)
			be.fill(guardedTable, rows)
		}
		c0 := cpuTime()
		bare += be.exec(fmt.Sprintf(stmt, bareTable))
		c1 := cpuTime()
		b.StartTimer()
		d, p := be.guarded(fmt.Sprintf(stmt, guardedTable))
		b.StopTimer()
		guarded += d
		bareCPU, guardedCPU = bareCPU+c1-c0, guardedCPU+cpuTime()-c1
		if p.RowsChanged() != int64(rows) {
			b.Fatalf("the guarded statement changed %d rows, want %d", p.RowsChanged(), rows)
		}
	}
	report(b, guarded, bare, "ms", float64(time.Millisecond))
	b.ReportMetric(float64(guardedCPU)/float64(b.N)/float64(time.Millisecond), "guarded-cpu-ms/op")
	b.ReportMetric(float64(bareCPU)/float64(b.N)/float64(time.Millisecond), "bare-cpu-ms/op")
}

// oneRowUpdates is how many single-row updates one iteration runs on each side.
const oneRowUpdates = 200

func benchOneRow(b *testing.B, h Harness) {
	be := newBenchEnv(b, h)
	be.fill(bareTable, 1000)
	be.fill(guardedTable, 1000)
	var bare, guarded time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		for k := 1; k <= oneRowUpdates; k++ {
			q := "UPDATE %s SET n = n + 1 WHERE id = " + strconv.Itoa(k)
			bare += be.exec(fmt.Sprintf(q, bareTable))
			b.StartTimer()
			d, _ := be.guarded(fmt.Sprintf(q, guardedTable))
			b.StopTimer()
			guarded += d
		}
	}
	report(b, guarded/oneRowUpdates, bare/oneRowUpdates, "us", float64(time.Microsecond))
	b.ReportMetric(float64(guarded-bare)/oneRowUpdates/float64(b.N)/float64(time.Microsecond), "added-us/update")
}

func benchUndo(b *testing.B, h Harness, rows int) {
	be := newBenchEnv(b, h)
	// The floor of any undo of a DELETE: the server putting the same rows
	// back by itself, from a copy in the same database.
	be.exec("CREATE TABLE bare_copy (id integer PRIMARY KEY, v text NOT NULL, n integer NOT NULL)")
	var bare, reinsert, undo, undoCPU time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		be.fill(bareTable, rows)
		be.fill(guardedTable, rows)
		be.exec("DELETE FROM bare_copy")
		be.exec("INSERT INTO bare_copy SELECT * FROM " + bareTable)
		bare += be.exec("DELETE FROM " + bareTable + " WHERE id > 0")
		reinsert += be.exec("INSERT INTO " + bareTable + " SELECT * FROM bare_copy")
		_, p := be.guarded("DELETE FROM " + guardedTable + " WHERE id > 0")
		b.StartTimer()
		start, c0 := time.Now(), cpuTime()
		rep, err := be.s.Undo(be.ctx, engine.UndoOptions{Entries: p.Seqs()})
		undo, undoCPU = undo+time.Since(start), undoCPU+cpuTime()-c0
		b.StopTimer()
		if err != nil {
			b.Fatalf("Undo: %v", err)
		}
		if rep.Rows != int64(rows) || !rep.Complete() {
			b.Fatalf("undo restored %d rows (complete %v), want %d", rep.Rows, rep.Complete(), rows)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(undo)/n/float64(time.Millisecond), "undo-ms/op")
	b.ReportMetric(float64(bare)/n/float64(time.Millisecond), "bare-delete-ms/op")
	b.ReportMetric(float64(reinsert)/n/float64(time.Millisecond), "bare-reinsert-ms/op")
	b.ReportMetric(float64(undo)/float64(bare), "undo/bare-delete")
	b.ReportMetric(float64(undo)/float64(reinsert), "undo/bare-reinsert")
	b.ReportMetric(float64(undoCPU)/n/float64(time.Millisecond), "undo-cpu-ms/op")
}

func benchMemory(b *testing.B, h Harness, rows int) {
	be := newBenchEnv(b, h)
	var peakHeap, peakRSS, growth uint64
	var guarded time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		be.fill(guardedTable, rows)
		runtime.GC()
		before := rss()
		var iterRSS uint64
		stop := sampleMemory(&peakHeap, &iterRSS)
		b.StartTimer()
		d, p := be.guarded("DELETE FROM " + guardedTable + " WHERE id > 0")
		b.StopTimer()
		stop()
		peakRSS, growth = max(peakRSS, iterRSS), max(growth, iterRSS-min(before, iterRSS))
		guarded += d
		if p.RowsChanged() != int64(rows) {
			b.Fatalf("the guarded DELETE changed %d rows, want %d", p.RowsChanged(), rows)
		}
	}
	b.ReportMetric(float64(guarded)/float64(b.N)/float64(time.Second), "guarded-s/op")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	if peakRSS > 0 {
		b.ReportMetric(float64(peakRSS)/(1<<20), "peak-rss-MB")
		b.ReportMetric(float64(growth)/(1<<20), "rss-growth-MB")
	}
}

// sampleMemory records the peak Go heap in use (live and not yet swept
// objects plus unused span space, i.e. MemStats.HeapInuse) and the peak
// RSS every 2 ms until the returned stop function is called.
func sampleMemory(peakHeap, peakRSS *uint64) (stop func()) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if h := samples[0].Value.Uint64() + samples[1].Value.Uint64(); h > *peakHeap {
				*peakHeap = h
			}
			if r := rss(); r > *peakRSS {
				*peakRSS = r
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// rss is the resident set size from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
