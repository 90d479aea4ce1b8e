package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"lifebelt/engine"
)

// countSink counts images and keeps nothing, so a benchmark measures the
// cost of capture alone.
type countSink struct{ rows int }

func (s *countSink) Table(engine.TableInfo) (int64, error)                      { return 1, nil }
func (s *countSink) Row(int64, engine.Op, []engine.Value, []engine.Value) error { s.rows++; return nil }
func (s *countSink) Object(engine.ObjectImage) error                            { return nil }
func (s *countSink) Warn(string)                                                {}

const benchRows = 100_000

func benchFile(b *testing.B) string {
	return newFile(b, `CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO t SELECT i, i * 7, 'row number ' || i, i / 3.0 FROM n;`)
}

// benchStatement times stmt on the same file run bare (a plain
// database/sql connection, no hook) and guarded (Tx.Exec imaging every row
// into a counting sink). Each run is rolled back, outside the timer. Besides
// wall time it reports process CPU time per op (cpu-ns/op), which stays
// meaningful on a loaded machine: compare guarded with bare on that.
func benchStatement(b *testing.B, stmt string) {
	path := benchFile(b)
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=1&_txlock=immediate")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := cpuTime()
			res, err := tx.Exec(stmt)
			cpu += cpuTime() - start
			b.StopTimer()
			if n, _ := res.RowsAffected(); err != nil || n != benchRows {
				b.Fatalf("%d rows, %v", n, err)
			}
			tx.Rollback()
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("guarded", func(b *testing.B) {
		c := openConn(b, path)
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			x, err := c.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			sink := &countSink{}
			b.StartTimer()
			start := cpuTime()
			res, err := x.Exec(ctx, engine.Statement{Text: stmt}, sink, engine.ExecOptions{})
			cpu += cpuTime() - start
			b.StopTimer()
			if err != nil || res.RowsAffected != benchRows || sink.rows != benchRows {
				b.Fatalf("%d rows, %d images, %v", res.RowsAffected, sink.rows, err)
			}
			x.Rollback(ctx)
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

func BenchmarkDelete100k(b *testing.B) { benchStatement(b, "DELETE FROM t WHERE id > 0") }
func BenchmarkUpdate100k(b *testing.B) { benchStatement(b, "UPDATE t SET a = a + 1") }
