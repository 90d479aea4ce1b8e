package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"lifebelt/engine"
)

// recSink records everything a statement sends.
type recSink struct {
	tables  []engine.TableInfo
	rows    []recRow
	objects []engine.ObjectImage
	warns   []string
}

type recRow struct {
	table         int64
	op            engine.Op
	before, after []engine.Value
}

func (s *recSink) Table(t engine.TableInfo) (int64, error) {
	s.tables = append(s.tables, t)
	return int64(len(s.tables)), nil
}

func (s *recSink) Row(table int64, op engine.Op, before, after []engine.Value) error {
	s.rows = append(s.rows, recRow{table, op, append([]engine.Value(nil), before...), append([]engine.Value(nil), after...)})
	return nil
}

func (s *recSink) Object(o engine.ObjectImage) error { s.objects = append(s.objects, o); return nil }
func (s *recSink) Warn(msg string)                   { s.warns = append(s.warns, msg) }

// info is the table a row was imaged under.
func (s *recSink) info(r recRow) engine.TableInfo { return s.tables[r.table-1] }

// render prints the rows of one table and op as sorted lines
// "before -> after", values joined by "|", NULL as ∅.
func (s *recSink) render(table string, op engine.Op) []string {
	var out []string
	for _, r := range s.rows {
		if s.info(r).Name != table || r.op != op {
			continue
		}
		out = append(out, strings.TrimSpace(valuesText(r.before)+" -> "+valuesText(r.after)))
	}
	sort.Strings(out)
	return out
}

func valuesText(vs []engine.Value) string {
	if vs == nil {
		return ""
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v.IsNull() {
			parts[i] = "∅"
		} else {
			parts[i] = v.S
		}
	}
	return strings.Join(parts, "|")
}

// capRun runs a batch in one transaction and commits it; it returns the
// sink, the last result and the first error (after which it rolls back).
func capRun(t testing.TB, c *conn, sql string, opt engine.ExecOptions) (*recSink, engine.Result, error) {
	t.Helper()
	ctx := context.Background()
	stmts, err := c.Split(sql)
	if err != nil {
		return nil, engine.Result{}, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.(engine.TxIDer).TxID(ctx); err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	var res engine.Result
	for _, st := range stmts {
		if res, err = tx.Exec(ctx, st, sink, opt); err != nil {
			tx.Rollback(ctx)
			return sink, res, err
		}
	}
	return sink, res, tx.Commit(ctx)
}

// capMust runs a batch that must succeed.
func capMust(t testing.TB, c *conn, sql string) *recSink {
	t.Helper()
	s, _, err := capRun(t, c, sql, engine.ExecOptions{})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// capSetup runs setup SQL directly (not imaged), as ExecAutocommit does:
// the change counters of the session's next transaction may not start at
// zero.
func capSetup(t testing.TB, c *conn, sql string) {
	t.Helper()
	c.statsClean = false
	if _, err := c.pg.Exec(context.Background(), sql); err != nil {
		t.Fatalf("setup: %v\n%s", err, sql)
	}
}

// capRows reads a query's rows as rendered lines, sorted.
func capRows(t testing.TB, c *conn, sql string) []string {
	t.Helper()
	rows, err := queryText(context.Background(), c.pg, sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		out = append(out, valuesText(rawToValues(rows.RawValues(), nil)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func eq(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// T is an adversarial table name: a quote, a semicolon, a space, unicode
// and a reserved word.
const T = `"Ta""b; lé select"`

func TestDeleteImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` ("ïd" int PRIMARY KEY, "select" text, "a;b" numeric(30,10));
		INSERT INTO `+T+` VALUES (1, 'one', 1.5), (2, NULL, NULL), (3, '', -0.0000000001), (4, 'four', 4);
		CREATE TABLE other (id int, keep bool); INSERT INTO other VALUES (1, true), (3, false), (4, false);`)

	s := capMust(t, c, `DELETE FROM `+T+` WHERE "ïd" IN (2, 3)`)
	eq(t, "plain delete", s.render(`Ta"b; lé select`, engine.OpDelete), []string{"2|∅|∅ ->", "3||-0.0000000001 ->"})
	if len(s.tables) != 1 || s.tables[0].KeyKind != engine.KeyPrimary || s.tables[0].Level != 0 {
		t.Errorf("tables %+v", s.tables)
	}

	// USING join, alias, CTE; a user RETURNING is replaced with a warning.
	s = capMust(t, c, `WITH k AS (SELECT id FROM other WHERE NOT keep) DELETE FROM ONLY `+T+` AS x USING k, other o
		WHERE x."ïd" = k.id AND o.id = k.id RETURNING 42`)
	eq(t, "delete using", s.render(`Ta"b; lé select`, engine.OpDelete), []string{"4|four|4.0000000000 ->"})
	if len(s.warns) != 1 || !strings.Contains(s.warns[0], "RETURNING") {
		t.Errorf("warnings %q", s.warns)
	}
	eq(t, "left", capRows(t, c, `SELECT * FROM `+T), []string{"1|one|1.5000000000"})

	// Without WHERE, on a table without any key.
	capSetup(t, c, `CREATE TABLE nokey (a int, b text); INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL)`)
	s = capMust(t, c, `DELETE FROM nokey`)
	eq(t, "nokey", s.render("nokey", engine.OpDelete), []string{"1|x ->", "1|x ->", "∅|∅ ->"})
	if s.tables[0].KeyKind != engine.KeyRow {
		t.Errorf("key kind %q", s.tables[0].KeyKind)
	}
}

func TestUpdateImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` ("ïd" int PRIMARY KEY, "select" text, n int, g int GENERATED ALWAYS AS (n * 2) STORED);
		INSERT INTO `+T+` ("ïd", "select", n) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30);
		CREATE TABLE src (id int, v text); INSERT INTO src VALUES (2, 'from src'), (3, 'from src 3');`)

	// Unqualified references to the target's columns in SET and WHERE.
	s := capMust(t, c, `UPDATE `+T+` SET n = n + 1, "select" = upper("select") WHERE "ïd" = 1`)
	eq(t, "simple", s.render(`Ta"b; lé select`, engine.OpUpdate), []string{"1|a|10|20 -> 1|A|11|22"})

	// Alias, FROM join, WITH, a WHERE with OR (precedence must survive).
	s = capMust(t, c, `WITH w AS (SELECT id, v FROM src) UPDATE ONLY `+T+` AS t SET "select" = w.v FROM w
		WHERE t."ïd" = w.id AND (w.id = 2 OR w.v = 'from src 3') RETURNING *`)
	eq(t, "from", s.render(`Ta"b; lé select`, engine.OpUpdate), []string{"2|b|20|40 -> 2|from src|20|40", "3|c|30|60 -> 3|from src 3|30|60"})

	// Columns named like Lifebelt's helpers make it choose other names.
	capSetup(t, c, `CREATE TABLE clash (lb_row int PRIMARY KEY, lb_old text, lb_ctid int); INSERT INTO clash VALUES (1, 'x', 2)`)
	s = capMust(t, c, `UPDATE clash SET lb_old = lb_old || lb_ctid WHERE lb_row = 1`)
	eq(t, "clash", s.render("clash", engine.OpUpdate), []string{"1|x|2 -> 1|x2|2"})

	// No WHERE at all; a row where nothing changes is still imaged.
	s = capMust(t, c, `UPDATE `+T+` SET n = n`)
	if got := len(s.render(`Ta"b; lé select`, engine.OpUpdate)); got != 3 {
		t.Errorf("update without where imaged %d rows", got)
	}
}

func TestInsertImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text UNIQUE, n int DEFAULT 7)`)
	s := capMust(t, c, `INSERT INTO `+T+` AS x (v) VALUES ('a'), ('b') RETURNING x.v`)
	eq(t, "insert", s.render(`Ta"b; lé select`, engine.OpInsert), []string{"-> 1|a|7", "-> 2|b|7"})

	s = capMust(t, c, `INSERT INTO `+T+` (v) SELECT v FROM (VALUES ('a'), ('c')) q(v) ON CONFLICT (v) DO NOTHING`)
	eq(t, "do nothing", s.render(`Ta"b; lé select`, engine.OpInsert), []string{"-> 4|c|7"})
}

func TestUpsertImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` (id int PRIMARY KEY, v text, n int DEFAULT 0, CONSTRAINT "u v" UNIQUE (v));
		INSERT INTO `+T+` VALUES (1, 'a', 1), (2, 'b', 2)`)

	s := capMust(t, c, `INSERT INTO `+T+` AS t VALUES (1, 'a', DEFAULT), (3, 'c', 3)
		ON CONFLICT (id) DO UPDATE SET n = t.n + 100, v = excluded.v || '!'`)
	eq(t, "updated", s.render(`Ta"b; lé select`, engine.OpUpdate), []string{"1|a|1 -> 1|a!|101"})
	eq(t, "inserted", s.render(`Ta"b; lé select`, engine.OpInsert), []string{"-> 3|c|3"})

	// ON CONSTRAINT, a SELECT source, a DO UPDATE ... WHERE that skips a row.
	s = capMust(t, c, `INSERT INTO `+T+` (id, v) SELECT id + 10, v FROM (VALUES (1, 'b'), (2, 'c'), (3, 'z')) s(id, v)
		ON CONFLICT ON CONSTRAINT "u v" DO UPDATE SET n = -1 WHERE `+T+`.v <> 'c'`)
	eq(t, "constraint updated", s.render(`Ta"b; lé select`, engine.OpUpdate), []string{"2|b|2 -> 2|b|-1"})
	eq(t, "constraint inserted", s.render(`Ta"b; lé select`, engine.OpInsert), []string{"-> 13|z|0"})

	// Shapes that cannot be captured exactly are refused before running.
	for _, q := range []string{
		`INSERT INTO ` + T + ` (v) VALUES ('q') ON CONFLICT (id) DO UPDATE SET n = 1`,
		`INSERT INTO ` + T + ` VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET id = 5`,
		`INSERT INTO ` + T + ` VALUES (1, 'a') ON CONFLICT ((id + 0)) DO UPDATE SET n = 1`,
	} {
		_, _, err := capRun(t, c, q, engine.ExecOptions{})
		var ue *engine.UnguardedError
		if !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want UnguardedError", q, err)
		}
	}
}

func TestCascadeCapture(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE p (id int PRIMARY KEY, code text UNIQUE);
		CREATE TABLE c1 (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE, x text);
		CREATE TABLE c2 (id int PRIMARY KEY, c1id int REFERENCES c1 ON DELETE CASCADE);
		CREATE TABLE n1 (id int PRIMARY KEY, pcode text REFERENCES p (code) ON DELETE SET NULL ON UPDATE CASCADE, y int);
		CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree ON DELETE CASCADE);
		INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three');
		INSERT INTO c1 VALUES (10, 1, 'a'), (11, 1, 'b'), (20, 2, 'c');
		INSERT INTO c2 VALUES (100, 10), (101, 11), (200, 20);
		INSERT INTO n1 VALUES (1, 'one', 5), (2, 'two', 6), (3, NULL, 7);
		INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (5, NULL), (6, 5);`)

	s := capMust(t, c, `DELETE FROM p WHERE code = 'one'`)
	eq(t, "p", s.render("p", engine.OpDelete), []string{"1|one ->"})
	eq(t, "c1", s.render("c1", engine.OpDelete), []string{"10|1|a ->", "11|1|b ->"})
	eq(t, "c2", s.render("c2", engine.OpDelete), []string{"100|10 ->", "101|11 ->"})
	eq(t, "n1", s.render("n1", engine.OpUpdate), []string{"1|one|5 -> 1|∅|5"})
	for _, r := range s.rows {
		want := map[string]int{"p": 0, "c1": 1, "n1": 1, "c2": 2}[s.info(r).Name]
		if s.info(r).Level != want {
			t.Errorf("%s imaged at level %d, want %d", s.info(r).Name, s.info(r).Level, want)
		}
	}

	// ON UPDATE CASCADE when a referenced key changes (and not when it
	// does not).
	s = capMust(t, c, `UPDATE p SET code = code || '2' WHERE id = 2; UPDATE p SET id = id WHERE id = 3`)
	eq(t, "n1 on update", s.render("n1", engine.OpUpdate), []string{"2|two|6 -> 2|two2|6"})

	// A self-referencing tree: the statement's own rows are not imaged
	// twice, descendants are imaged level by level.
	s = capMust(t, c, `DELETE FROM tree WHERE id IN (1, 3)`)
	eq(t, "tree", s.render("tree", engine.OpDelete), []string{"1|∅ ->", "2|1 ->", "3|2 ->", "4|3 ->"})
	levels := map[string]int{}
	for _, r := range s.rows {
		levels[r.before[0].S] = s.info(r).Level
	}
	if levels["1"] != 0 || levels["3"] != 0 || levels["2"] != 1 || levels["4"] != 1 {
		t.Errorf("tree levels %v", levels)
	}

	// A self-referencing SET NULL: children of deleted rows are updated
	// (and a child deleted by the statement itself is not).
	capSetup(t, c, `CREATE TABLE sn (id int PRIMARY KEY, parent int REFERENCES sn ON DELETE SET NULL);
		INSERT INTO sn VALUES (1, NULL), (2, 1), (3, 1), (4, 3)`)
	s = capMust(t, c, `DELETE FROM sn WHERE id IN (1, 2)`)
	eq(t, "sn deleted", s.render("sn", engine.OpDelete), []string{"1|∅ ->", "2|1 ->"})
	eq(t, "sn nulled", s.render("sn", engine.OpUpdate), []string{"3|1 -> 3|∅"})

	// A random victim: whatever row the server picks, the images are the
	// cascaded children of exactly that row, or the batch stops.
	capSetup(t, c, `INSERT INTO p VALUES (7, 'seven'), (8, 'eight'); INSERT INTO c1 VALUES (70, 7, 's'), (80, 8, 'e')`)
	s, _, err := capRun(t, c, `DELETE FROM p WHERE id = (SELECT id FROM p WHERE id IN (7, 8) ORDER BY random() LIMIT 1)`, engine.ExecOptions{})
	if err == nil {
		deleted := s.render("p", engine.OpDelete)
		kids := s.render("c1", engine.OpDelete)
		if len(deleted) != 1 || len(kids) != 1 || strings.Split(deleted[0], "|")[0] != strings.Split(kids[0], "|")[1] {
			t.Errorf("random delete imaged parent %q with children %q", deleted, kids)
		}
	} else if !strings.Contains(err.Error(), "would not be exact") {
		t.Errorf("random delete: %v", err)
	}
}

func TestTriggerWarningAndMismatch(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v text);
		CREATE TABLE audit (tid int, at text);
		CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO audit VALUES (OLD.id, TG_OP); RETURN OLD; END $$;
		CREATE TRIGGER "audit me" AFTER DELETE OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION log_it();
		INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');`)
	s := capMust(t, c, `DELETE FROM t WHERE id < 3`)
	if len(s.warns) != 1 || !strings.Contains(s.warns[0], `trigger(s) audit me on `) || !strings.Contains(s.warns[0], "changed 2 rows") ||
		!strings.Contains(s.warns[0], "audit") || !strings.Contains(s.warns[0], "undo will not restore them") {
		t.Errorf("warnings %q", s.warns)
	}

	// A trigger that changes other rows of the target itself makes the
	// images inexact: the statement fails.
	capSetup(t, c, `CREATE FUNCTION touch_all() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF pg_trigger_depth() = 1 THEN UPDATE t SET v = v || '!' WHERE id <> NEW.id; END IF; RETURN NEW; END $$;
		CREATE TRIGGER toucher AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch_all();
		INSERT INTO t VALUES (4, 'd');`)
	_, _, err := capRun(t, c, `UPDATE t SET v = 'x' WHERE id = 3`, engine.ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "would not be exact") {
		t.Errorf("self-changing trigger: got %v", err)
	}
	eq(t, "rolled back", capRows(t, c, "SELECT * FROM t"), []string{"3|c", "4|d"})
}

func TestReadWithSideEffects(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int); INSERT INTO t VALUES (1);
		CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING id';`)
	_, _, err := capRun(t, c, `SELECT sneaky()`, engine.ExecOptions{})
	var ue *engine.UnguardedError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "changed data") {
		t.Fatalf("got %v", err)
	}
	eq(t, "nothing deleted", capRows(t, c, "SELECT * FROM t"), []string{"1"})

	// A refused read leaves the batch usable.
	ctx := context.Background()
	tx, _ := c.Begin(ctx)
	sts, _ := c.Split(`SELECT sneaky(); SELECT count(*) FROM t`)
	if _, err := tx.Exec(ctx, sts[0], &recSink{}, engine.ExecOptions{}); err == nil {
		t.Fatal("side effect not detected")
	}
	res, err := tx.Exec(ctx, sts[1], &recSink{}, engine.ExecOptions{})
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0].S != "1" {
		t.Errorf("after refusal: %+v, %v", res, err)
	}
	tx.Rollback(ctx)

	_, res, err = capRun(t, c, `SELECT sneaky()`, engine.ExecOptions{AllowUnguarded: true})
	if err != nil || !res.Unguarded {
		t.Errorf("allowed: %+v, %v", res, err)
	}
	if got := capRows(t, c, "SELECT * FROM t"); len(got) != 0 {
		t.Errorf("allowed side effect did not happen: %q", got)
	}

	// Plain reads: columns, a row cap, truncation.
	capSetup(t, c, `INSERT INTO t SELECT generate_series(1, 30)`)
	_, res, err = capRun(t, c, `SELECT id AS "n;" FROM t ORDER BY id`, engine.ExecOptions{MaxResultRows: 10})
	if err != nil || len(res.Rows) != 10 || !res.Truncated || res.Columns[0] != "n;" || res.Unguarded {
		t.Errorf("read: %+v, %v", res, err)
	}
}

func TestRefusals(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1);
		CREATE VIEW v AS SELECT * FROM t; CREATE TABLE parent (id int); CREATE TABLE kid () INHERITS (parent);
		CREATE PROCEDURE p() LANGUAGE sql AS 'DELETE FROM t';`)
	for _, q := range []string{
		"VACUUM t", "DO $$ BEGIN DELETE FROM t; END $$", "CALL p()", "COPY t FROM STDIN",
		"DROP SCHEMA nothing_here", "CREATE DATABASE nope", "CREATE INDEX CONCURRENTLY i ON t (v)",
		"MERGE INTO t USING t s ON t.id = s.id WHEN MATCHED THEN DELETE", "UPDATE v SET v = 2",
		"DELETE FROM parent", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
		"UPDATE t SET v = 3 FROM (DELETE FROM t RETURNING *) d", "GRANT SELECT ON v TO public", "GRANT USAGE ON SCHEMA public TO public",
		"ALTER SYSTEM SET work_mem = '1MB'", "DROP OWNED BY current_user", "EXPLAIN ANALYZE DELETE FROM t",
	} {
		_, _, err := capRun(t, c, q, engine.ExecOptions{})
		var ue *engine.UnguardedError
		var se *engine.SyntaxError
		if errors.As(err, &se) {
			continue // not even valid: fine, nothing ran
		}
		if !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want UnguardedError", q, err)
		}
	}
	eq(t, "untouched", capRows(t, c, "SELECT * FROM t"), []string{"1|1"})

	for _, q := range []string{"SET DateStyle = 'German'", "SET TIME ZONE 'Europe/Paris'", "RESET ALL", "SET LOCAL bytea_output = escape", "BEGIN", "COMMIT"} {
		if _, _, err := capRun(t, c, q, engine.ExecOptions{}); err == nil {
			t.Errorf("%s was allowed", q)
		}
	}
	if _, _, err := capRun(t, c, "LOCK TABLE t; SET LOCAL search_path = public; SET statement_timeout = '5s'", engine.ExecOptions{}); err != nil {
		t.Errorf("harmless statements refused: %v", err)
	}
	s, res, err := capRun(t, c, "DELETE FROM parent", engine.ExecOptions{AllowUnguarded: true})
	if err != nil || !res.Unguarded || len(s.rows) != 0 {
		t.Errorf("allowed unguarded: %+v %v", res, err)
	}
}

// TestConcurrentChange: a second session changes a target row after the
// batch's snapshot but before its statement: the statement must fail with
// the clear sentence instead of imaging a stale row.
func TestConcurrentChange(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'old'), (2, 'old')`)
	other := capOpen(t, capDSN())
	ctx := context.Background()
	for _, q := range []string{`UPDATE t SET v = 'mine' WHERE id = 1`, `DELETE FROM t WHERE id = 1`,
		`INSERT INTO t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = 'mine'`} {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.(engine.TxIDer).TxID(ctx); err != nil { // fixes the snapshot
			t.Fatal(err)
		}
		if _, err := other.pg.Exec(ctx, fmt.Sprintf(`UPDATE %s.t SET v = v || '+' WHERE id = 1`, quoteIdent(schema))); err != nil {
			t.Fatal(err)
		}
		sts, _ := c.Split(q)
		s := &recSink{}
		_, err = tx.Exec(ctx, sts[0], s, engine.ExecOptions{})
		tx.Rollback(ctx)
		if !errors.Is(err, ErrConcurrentChange) || err.Error() != ErrConcurrentChange.Error() {
			t.Errorf("%s: got %v, want %q", q, err, ErrConcurrentChange)
		}
	}
}
