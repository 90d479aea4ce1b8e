package postgres

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"lifebelt/engine"
)

// countSink counts images and keeps nothing, like a journal that has
// already written them out.
type countSink struct {
	rows int64
	// peak heap seen while rows arrived, sampled every 50,000 rows
	peak uint64
}

func (s *countSink) Table(engine.TableInfo) (int64, error) { return 1, nil }
func (s *countSink) Object(engine.ObjectImage) error       { return nil }
func (s *countSink) Warn(string)                           {}
func (s *countSink) Row(_ int64, _ engine.Op, _, _ []engine.Value) error {
	s.rows++
	if s.rows%50000 == 0 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > s.peak {
			s.peak = m.HeapInuse
		}
	}
	return nil
}

// benchTable creates t(id, v, pad) with n rows in a fresh schema.
func benchTable(b testing.TB, n int) *conn {
	c, _ := capSession(b)
	capSetup(b, c, fmt.Sprintf(`CREATE TABLE t (id int PRIMARY KEY, v int, pad text);
		INSERT INTO t SELECT g, g, repeat('x', 40) FROM generate_series(1, %d) g`, n))
	capSetup(b, c, "VACUUM ANALYZE t")
	return c
}

// compare runs sql bare (straight to the server) and guarded (through
// Exec with a counting sink), each in a transaction that is rolled back,
// per times an iteration, and reports both times per statement and their
// ratio.
func compare(b *testing.B, c *conn, per int, sql func(i int) string) {
	ctx := context.Background()
	var bare, guarded time.Duration
	for i := 0; i < b.N*per; i++ {
		tx, err := c.pg.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := tx.Exec(ctx, sql(i)); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(start)
		tx.Rollback(ctx)

		sts, err := c.Split(sql(i))
		if err != nil {
			b.Fatal(err)
		}
		etx, err := c.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := etx.(engine.TxIDer).TxID(ctx); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if _, err := etx.Exec(ctx, sts[0], &countSink{}, engine.ExecOptions{}); err != nil {
			etx.Rollback(ctx)
			b.Fatal(err)
		}
		guarded += time.Since(start)
		etx.Rollback(ctx)
	}
	n := float64(b.N * per)
	b.ReportMetric(float64(bare.Microseconds())/n, "bare-µs/op")
	b.ReportMetric(float64(guarded.Microseconds())/n, "guarded-µs/op")
	b.ReportMetric(float64(guarded)/float64(bare), "guarded/bare")
	b.ReportMetric(float64((guarded-bare).Microseconds())/n, "added-µs/op")
}

func BenchmarkDelete100k(b *testing.B) {
	c := benchTable(b, 100000)
	compare(b, c, 1, func(int) string { return "DELETE FROM t" })
}

func BenchmarkUpdate100k(b *testing.B) {
	c := benchTable(b, 100000)
	compare(b, c, 1, func(int) string { return "UPDATE t SET v = v + 1" })
}

func BenchmarkUpdateOneRow(b *testing.B) {
	c := benchTable(b, 100000)
	compare(b, c, 200, func(i int) string { return fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d", i%100000+1) })
}

// BenchmarkUpdateOneRowTables is BenchmarkUpdateOneRow in a database with
// 3,000 more tables: the change counters are read for the tables the
// transaction touched, so the added time should not grow with them.
func BenchmarkUpdateOneRowTables(b *testing.B) {
	c := benchTable(b, 100000)
	capSetup(b, c, `DO $$ BEGIN FOR i IN 1..3000 LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 'other_' || i); IF i % 250 = 0 THEN COMMIT; END IF; END LOOP; END $$`)
	compare(b, c, 200, func(i int) string { return fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d", i%100000+1) })
}

// TestDeleteMillionRowsMemory deletes 1,000,000 rows through Exec and
// checks the images stream: the heap stays far below what holding the
// rows would take.
func TestDeleteMillionRowsMemory(t *testing.T) {
	if testing.Short() || os.Getenv("LIFEBELT_SKIP_SLOW") != "" {
		t.Skip("slow")
	}
	c := benchTable(t, 1000000)
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	sts, _ := c.Split("DELETE FROM t")
	runtime.GC()
	sink := &countSink{}
	res, err := tx.Exec(ctx, sts[0], sink, engine.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsAffected != 1000000 || sink.rows != 1000000 {
		t.Fatalf("deleted %d, imaged %d", res.RowsAffected, sink.rows)
	}
	const limit = 300 << 20
	t.Logf("peak heap in use while streaming 1,000,000 images: %d MB", sink.peak>>20)
	if sink.peak > limit {
		t.Errorf("peak heap %d MB exceeds 300 MB", sink.peak>>20)
	}
}

// BenchmarkDeleteReturningFloor measures what any capture of a DELETE's
// rows through the server costs before Lifebelt does anything with them,
// against the bare DELETE of the same 100,000 rows, each in a transaction
// rolled back: the server sending every deleted row to a client that only
// reads the bytes (DELETE ... RETURNING *, raw), and the server formatting
// them with no client at all (COPY (DELETE ... RETURNING *) TO '/dev/null',
// text and binary: the server writes the file itself, so this needs a
// superuser or pg_write_server_files, as the test server has).
func BenchmarkDeleteReturningFloor(b *testing.B) {
	c := benchTable(b, 100000)
	ctx := context.Background()
	steps := []struct{ name, sql string }{
		{"bare", "DELETE FROM t"},
		{"returning-to-client", "DELETE FROM t RETURNING *"},
		{"copy-text-devnull", "COPY (DELETE FROM t RETURNING *) TO '/dev/null'"},
		{"copy-binary-devnull", "COPY (DELETE FROM t RETURNING *) TO '/dev/null' (FORMAT binary)"},
	}
	took := make([]time.Duration, len(steps))
	for i := 0; i < b.N; i++ {
		for k, s := range steps {
			tx, err := c.pg.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			rr := tx.Conn().PgConn().ExecParams(ctx, s.sql, nil, nil, nil, nil)
			rows := 0
			for rr.NextRow() {
				_ = rr.Values()
				rows++
			}
			if _, err := rr.Close(); err != nil {
				b.Fatalf("%s: %v", s.sql, err)
			}
			took[k] += time.Since(start)
			tx.Rollback(ctx)
			if k == 1 && rows != 100000 {
				b.Fatalf("RETURNING sent %d rows, want 100000", rows)
			}
		}
	}
	n := float64(b.N)
	for k, s := range steps {
		b.ReportMetric(float64(took[k].Microseconds())/n/1000, s.name+"-ms/op")
		if k > 0 {
			b.ReportMetric(float64(took[k])/float64(took[0]), s.name+"/bare")
		}
	}
}
