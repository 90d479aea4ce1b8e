package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"lifebelt/engine"
)

// TestCountersStatement: the change counters are read with a statement
// prepared once per session, prepared anew when a batch deallocates it.
func TestCountersStatement(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1), (2, 2)`)
	s := capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "first", s.render("t", engine.OpUpdate), []string{"1|1 -> 1|2"})
	first := c.counters[countersLocal]
	if first == "" {
		t.Fatal("the counters statement was not kept")
	}
	s = capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 2; SELECT * FROM t`)
	eq(t, "second", s.render("t", engine.OpUpdate), []string{"2|2 -> 2|3"})
	if c.counters[countersLocal] != first {
		t.Errorf("the counters statement was prepared again: %s, then %s", first, c.counters[countersLocal])
	}

	// A batch deallocating it: later statements prepare it again.
	s = capMust(t, c, `DEALLOCATE `+first+`; UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "after DEALLOCATE", s.render("t", engine.OpUpdate), []string{"1|2 -> 1|3"})
	if c.counters[countersLocal] == "" || c.counters[countersLocal] == first {
		t.Errorf("the counters statement was not prepared anew after DEALLOCATE: %q", c.counters[countersLocal])
	}

	// Deallocated where the session cannot see it: that batch fails
	// (nothing changes), the next prepares it again.
	gone := c.counters[countersLocal]
	capSetup(t, c, `DEALLOCATE `+gone)
	if _, _, err := capRun(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`, engine.ExecOptions{}); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("a batch ran without its counters statement: %v", err)
	}
	s = capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "healed", s.render("t", engine.OpUpdate), []string{"1|3 -> 1|4"})
	eq(t, "rows", capRows(t, c, "SELECT * FROM t"), []string{"1|4", "2|3"})
}

// TestExecTakesSplitTrees: Exec uses the trees Split made, once each, and
// parses statements it has none for.
func TestExecTakesSplitTrees(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1)`)
	ctx := context.Background()
	sts, err := c.Split("UPDATE t SET v = v + 1 WHERE id = 1;\nUPDATE t SET v = v + 1 WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	if c.trees.take(sts[0].Text) == nil {
		t.Fatal("Split kept no tree")
	}
	if _, err := c.Split("UPDATE t SET v = v + 1 WHERE id = 1; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	sink := &recSink{}
	// The same statement twice: once from the cache, once parsed again;
	// then one Split never saw.
	for _, st := range append(sts, engine.Statement{Text: "UPDATE t SET v = v * 10 WHERE id = 1", Verb: "UPDATE", Kind: engine.KindDML}) {
		if _, err := tx.Exec(ctx, st, sink, engine.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
		if c.trees.take(st.Text) != nil {
			t.Errorf("Exec left the tree of %q in the cache", st.Text)
		}
	}
	eq(t, "images", sink.render("t", engine.OpUpdate), []string{"1|1 -> 1|2", "1|2 -> 1|3", "1|3 -> 1|30"})
}

// batch is what batchRun saw: each statement's sink, and the counter
// readings sent, in order ("full" or "local").
type batch struct {
	sinks    []*recSink
	readings []string
}

// warns are the warnings of all statements.
func (b *batch) warns() []string {
	var out []string
	for _, s := range b.sinks {
		out = append(out, s.warns...)
	}
	return out
}

// batchRun runs a batch in one transaction as the engine does: each
// statement with a sink of its own, then (with settle) Settle with the
// last one, then COMMIT, or ROLLBACK at the first error.
func batchRun(t *testing.T, c *conn, sql string, settle bool) (*batch, error) {
	t.Helper()
	ctx := context.Background()
	sts, err := c.Split(sql)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := &batch{}
	tx.(*pgTx).trace = func(sql string) {
		if !strings.HasPrefix(sql, "EXECUTE lifebelt_counters_") {
			return
		}
		switch name := strings.TrimPrefix(sql, "EXECUTE "); {
		case name == c.counters[countersFull]:
			b.readings = append(b.readings, "full")
		case strings.HasPrefix(name, c.counters[countersLocal]+"("):
			b.readings = append(b.readings, "local")
		default:
			b.readings = append(b.readings, "? "+sql)
		}
	}
	for i, st := range sts {
		sink := &recSink{}
		b.sinks = append(b.sinks, sink)
		_, err := tx.Exec(ctx, st, sink, engine.ExecOptions{})
		if err == nil && settle && i == len(sts)-1 {
			err = tx.(engine.Settler).Settle(ctx, sink)
		}
		if err != nil {
			tx.Rollback(ctx)
			return b, err
		}
	}
	return b, tx.Commit(ctx)
}

// TestCountersLocal: on a server that can flush statistics on request
// (PostgreSQL 15 and later) the change counters are read for the tables
// the transaction touched only, unless the statement's table has triggers;
// counts left over from the session's earlier transactions do not leak
// into later ones (a trigger's rows are counted once per statement); a
// session started on stale counts, or a transaction after a rolled-back
// savepoint, reads every table once.
func TestCountersLocal(t *testing.T) {
	c, _ := capSession(t)
	if !c.flushStats {
		t.Skip("this server cannot flush statistics on request (PostgreSQL 15 and later can)")
	}
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v text);
		CREATE TABLE plain (id int PRIMARY KEY, v text);
		CREATE TABLE audit (tid int, at text);
		CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO audit VALUES (OLD.id, TG_OP); RETURN OLD; END $$;
		CREATE TRIGGER logger AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION log_it();
		CREATE FUNCTION fails() RETURNS int LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO audit VALUES (0, 'x'); RAISE EXCEPTION 'no'; END $$;
		INSERT INTO t SELECT g, 'v' FROM generate_series(1, 10) g;
		INSERT INTO plain SELECT g, 'v' FROM generate_series(1, 10) g;
		INSERT INTO audit VALUES (0, 'setup')`)

	// capSetup wrote without asking for a flush: the first reading is a
	// full one, the others local.
	b, err := batchRun(t, c, `DELETE FROM plain WHERE id = 1; DELETE FROM plain WHERE id = 2`, false)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "readings after setup", b.readings, []string{"full", "local", "local", "local"})

	// Each later transaction starts at zero: local readings only.
	if b, err = batchRun(t, c, `DELETE FROM plain WHERE id = 3`, false); err != nil {
		t.Fatal(err)
	}
	eq(t, "readings", b.readings, []string{"local", "local"})

	// A table with triggers: every table is read, and the audit rows of
	// earlier transactions are not counted again.
	for i := 3; i <= 5; i++ {
		if b, err = batchRun(t, c, fmt.Sprintf(`DELETE FROM t WHERE id = %d`, i), false); err != nil {
			t.Fatal(err)
		}
		eq(t, "readings with triggers", b.readings, []string{"full", "full"})
		eq(t, "warnings", countedIn(b.warns()), []string{"1 in audit"})
	}

	// A read that wrote to audit and failed is rolled back to its
	// savepoint, which releases its lock on audit but keeps its count: the
	// next reading covers every table, and the DELETE's trigger row is
	// still counted once.
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sts, _ := c.Split(`SELECT fails(); DELETE FROM t WHERE id = 6`)
	if _, err := tx.Exec(ctx, sts[0], &recSink{}, engine.ExecOptions{}); err == nil || !strings.Contains(err.Error(), "no") {
		t.Fatalf("the failing read: %v", err)
	}
	if !tx.(*pgTx).fullCounts {
		t.Error("after a rolled-back savepoint the next reading is not a full one")
	}
	sink := &recSink{}
	if _, err := tx.Exec(ctx, sts[1], sink, engine.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	eq(t, "warnings after a rolled-back read", countedIn(sink.warns), []string{"1 in audit"})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "rows", capRows(t, c, "SELECT count(*) FROM t"), []string{"6"})

	// A trigger created between two transactions is seen (the table's
	// digest covers its triggers).
	capSetup(t, c, `CREATE TRIGGER logger AFTER DELETE ON plain FOR EACH ROW EXECUTE FUNCTION log_it()`)
	if b, err = batchRun(t, c, `DELETE FROM plain WHERE id = 4`, false); err != nil {
		t.Fatal(err)
	}
	eq(t, "readings after CREATE TRIGGER", b.readings, []string{"full", "full"})
	eq(t, "warnings after CREATE TRIGGER", countedIn(b.warns()), []string{"1 in audit"})
}

// TestCountersCaughtExceptions: code that catches an exception rolls back
// a subtransaction of its own, which releases the locks taken in it but
// keeps its counts. Later statements of the batch must neither refuse a
// read nor warn about rows nobody changed because of them.
func TestCountersCaughtExceptions(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE seen (id int PRIMARY KEY);
		CREATE TABLE child (sid int REFERENCES seen);
		CREATE TABLE t (id int PRIMARY KEY, v int);
		CREATE TABLE plain (id int PRIMARY KEY, v int);
		CREATE FUNCTION note_seen() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			BEGIN INSERT INTO seen VALUES (NEW.id); EXCEPTION WHEN unique_violation THEN NULL; END;
			RETURN NEW;
		END $$;
		CREATE TRIGGER noter AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION note_seen();
		CREATE FUNCTION try_seen(i int) RETURNS int LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO seen VALUES (i); RETURN 1; EXCEPTION WHEN unique_violation THEN RETURN 0; END $$;
		INSERT INTO seen VALUES (1), (2);
		INSERT INTO t SELECT g, g FROM generate_series(1, 5) g;
		INSERT INTO plain SELECT g, g FROM generate_series(1, 5) g`)

	// Through a trigger (1 is already in seen: the trigger's insert is
	// rolled back).
	if _, err := batchRun(t, c, `UPDATE t SET v = v + 1 WHERE id = 1; SELECT count(*) FROM seen`, false); err != nil {
		t.Errorf("read after a trigger caught an exception: %v", err)
	}
	b, err := batchRun(t, c, `UPDATE t SET v = v + 1 WHERE id = 1; INSERT INTO child VALUES (1)`, false)
	if err != nil {
		t.Fatal(err)
	}
	if w := b.sinks[1].warns; len(w) != 0 {
		t.Errorf("the INSERT warned about rows nobody changed: %q", w)
	}
	if b, err = batchRun(t, c, `UPDATE t SET v = v + 1 WHERE id = 2; UPDATE t SET v = v + 1 WHERE id = 3`, false); err != nil {
		t.Fatal(err)
	}
	eq(t, "the row the second trigger added", countedIn(b.sinks[1].warns), []string{"1 in seen"})

	// Through a function in a statement on a table without triggers.
	_, _, err = capRun(t, c, `UPDATE plain SET v = try_seen(1) WHERE id = 1; SELECT count(*) FROM seen`, engine.ExecOptions{})
	if err != nil {
		t.Errorf("read after a function caught an exception: %v", err)
	}
	eq(t, "seen", capRows(t, c, "SELECT id FROM seen"), []string{"1", "2", "3"})
}

// countedIn reduces warnings about rows changed elsewhere to "N in TABLE"
// (TABLE unqualified); others are kept whole.
func countedIn(warns []string) []string {
	re := regexp.MustCompile(`rows \((\d+) in .*\."?([a-z]+)"?\)`)
	var out []string
	for _, w := range warns {
		if m := re.FindStringSubmatch(w); m != nil {
			out = append(out, m[1]+" in "+m[2])
			continue
		}
		out = append(out, w)
	}
	return out
}

// TestSettleDeferredTriggers: deferred constraint triggers, which would
// run at COMMIT after the images were journaled, run at the end of the
// batch instead; rows they change elsewhere are reported, and rows they
// change in a table the batch imaged stop it.
func TestSettleDeferredTriggers(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int);
		CREATE TABLE plain (id int PRIMARY KEY);
		CREATE TABLE audit (tid int);
		CREATE FUNCTION log_later() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO audit VALUES (OLD.id); RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER later AFTER DELETE ON t DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION log_later();
		CREATE FUNCTION bump_later() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF pg_trigger_depth() = 1 THEN UPDATE t SET v = v + 100 WHERE id <> NEW.id; END IF; RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER bump AFTER UPDATE ON t DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION bump_later();
		INSERT INTO t SELECT g, g FROM generate_series(1, 5) g;
		INSERT INTO plain VALUES (1)`)

	b, err := batchRun(t, c, `DELETE FROM t WHERE id = 1; DELETE FROM plain`, true)
	if err != nil {
		t.Fatal(err)
	}
	if w := b.sinks[1].warns; len(w) != 1 || !strings.Contains(w[0], "deferred triggers changed 1 rows") || !strings.Contains(w[0], "audit") {
		t.Errorf("warnings %q", b.warns())
	}
	eq(t, "audit", capRows(t, c, "SELECT tid FROM audit"), []string{"1"})

	_, err = batchRun(t, c, `UPDATE t SET v = 0 WHERE id = 2`, true)
	if err == nil || !strings.Contains(err.Error(), "would not be exact") {
		t.Errorf("a deferred trigger changing imaged rows: %v", err)
	}
	eq(t, "t unchanged", capRows(t, c, "SELECT id, v FROM t"), []string{"2|2", "3|3", "4|4", "5|5"})

	// No code of the user's ran: nothing to settle, no round trip.
	var sent []string
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.(*pgTx).trace = func(sql string) { sent = append(sent, sql) }
	sts, _ := c.Split(`INSERT INTO plain VALUES (2)`)
	if _, err := tx.Exec(ctx, sts[0], &recSink{}, engine.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	n := len(sent)
	if err := tx.(engine.Settler).Settle(ctx, &recSink{}); err != nil {
		t.Fatal(err)
	}
	if len(sent) != n {
		t.Errorf("Settle sent %q for a batch without triggers", sent[n:])
	}
	tx.Rollback(ctx)
}

// TestLockBeforeSnapshot: when DROP TABLE is a batch's first statement,
// its lock comes before the transaction's snapshot (nothing Lifebelt
// sends at the start of a transaction may take one), so a row another
// session committed after Begin is imaged too.
func TestLockBeforeSnapshot(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`)
	other := capOpen(t, capDSN())
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := other.pg.Exec(ctx, "INSERT INTO "+quoteQualified(schema, "t")+" VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	sts, err := c.Split("DROP TABLE t")
	if err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	if _, err := tx.Exec(ctx, sts[0], sink, engine.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	eq(t, "rows imaged before DROP TABLE", sink.render("t", engine.OpDelete), []string{"1 ->", "2 ->"})
}

// TestEndWithCancelledContext: a COMMIT or ROLLBACK that could not be sent
// (its context was already done) must not leave the transaction open for
// the next batch to commit.
func TestEndWithCancelledContext(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1)`)
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, end := range []string{"commit", "rollback"} {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sts, _ := c.Split(`UPDATE t SET v = 99 WHERE id = 1`)
		if _, err := tx.Exec(ctx, sts[0], &recSink{}, engine.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
		if end == "commit" {
			if err := tx.Commit(done); err == nil {
				t.Fatal("a commit with a cancelled context succeeded")
			}
		} else if err := tx.Rollback(done); err == nil {
			t.Fatal("a rollback with a cancelled context succeeded")
		}
		// The next batch commits only its own change.
		if _, _, err := capRun(t, c, `INSERT INTO t VALUES (2, 2)`, engine.ExecOptions{}); err != nil {
			t.Fatalf("after %s: %v", end, err)
		}
		eq(t, "after "+end, capRows(t, c, "SELECT id, v FROM t"), []string{"1|1", "2|2"})
		capSetup(t, c, `DELETE FROM t WHERE id = 2`)
	}
}

// TestCreateShadowedByTemp: CREATE TABLE AS of a name a temporary table
// already has puts the new table in the first schema of search_path; it is
// recorded as created there, and its own rows are not reported as changed
// by other code.
func TestCreateShadowedByTemp(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TEMP TABLE x (a int)`)
	s, _, err := capRun(t, c, `CREATE TABLE x AS SELECT g AS a FROM generate_series(1, 3) g`, engine.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.warns) != 0 {
		t.Errorf("warnings %q", s.warns)
	}
	if len(s.objects) != 1 || s.objects[0].Action != engine.ActionCreate || s.objects[0].Schema != schema || s.objects[0].Name != "x" {
		t.Errorf("objects %+v, want x created in %s", s.objects, schema)
	}
}

// TestAlterTableCreatedInBatch: ALTER TABLE that drops a column of a table
// the same batch created passes the check for concurrent changes (the
// second connection cannot see the new table); one the batch renamed first
// (and so locked against reading) is refused with a clear reason instead of
// waiting forever.
func TestAlterTableCreatedInBatch(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE old (id int, v text); INSERT INTO old VALUES (1, 'a')`)
	if _, _, err := capRun(t, c, `CREATE TABLE n (id int, v text); INSERT INTO n VALUES (1, 'a'); ALTER TABLE n DROP COLUMN v`, engine.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	eq(t, "columns of n", capRows(t, c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'n' AND column_name = 'v'"), []string{"0"})
	_, _, err := capRun(t, c, `ALTER TABLE old RENAME TO renamed; ALTER TABLE renamed DROP COLUMN v`, engine.ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "batch of its own") {
		t.Errorf("rename then ALTER in one batch: %v", err)
	}
	eq(t, "old kept", capRows(t, c, "SELECT * FROM old"), []string{"1|a"})
}

// TestTruncateAfterInsert: TRUNCATE resets the transaction's counters of
// the table it empties; that is not a change made elsewhere.
func TestTruncateAfterInsert(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`)
	s, _, err := capRun(t, c, `INSERT INTO t VALUES (2); TRUNCATE t`, engine.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.warns) != 0 {
		t.Errorf("warnings %q", s.warns)
	}
	eq(t, "rows imaged", s.render("t", engine.OpDelete), []string{"1 ->", "2 ->"})
}
