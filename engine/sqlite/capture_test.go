package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
)

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestRowImages(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n REAL);
		INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', NULL);`)
	res, s := run(t, x, "INSERT INTO t(v, n) VALUES ('c', 2)")
	equal(t, "insert", s.rowsOf("t"), []string{`I0 - -> (3,"c",2f)`})
	if res.RowsAffected != 1 {
		t.Errorf("insert RowsAffected = %d", res.RowsAffected)
	}
	_, s = run(t, x, "UPDATE t SET v = v || '!' WHERE id <= 2")
	equal(t, "update", s.rowsOf("t"), []string{`U0 (1,"a",1.5f) -> (1,"a!",1.5f)`, `U0 (2,"b",NULL) -> (2,"b!",NULL)`})
	res, s = run(t, x, "DELETE FROM t WHERE id = 1")
	equal(t, "delete", s.rowsOf("t"), []string{`D0 (1,"a!",1.5f) -> -`})
	if res.RowsAffected != 1 || len(s.tables) != 1 || s.tables[0].KeyKind != engine.KeyPrimary {
		t.Errorf("delete: RowsAffected %d, tables %+v", res.RowsAffected, s.tables)
	}
}

func TestCompositeKeyAndWithoutRowid(t *testing.T) {
	_, x := session(t, `CREATE TABLE c(a TEXT, b INTEGER, v, PRIMARY KEY (b, a)) WITHOUT ROWID;
		INSERT INTO c VALUES ('x', 1, 10), ('y', 1, 20), ('x', 2, 30);`)
	_, s := run(t, x, "UPDATE c SET b = 3 WHERE a = 'x' AND b = 2")
	equal(t, "key change", s.rowsOf("c"), []string{`U0 ("x",2,30) -> ("x",3,30)`})
	if k := s.tables[0]; k.KeyKind != engine.KeyPrimary || !slices.Equal(k.Key, []int{1, 0}) {
		t.Errorf("key = %s %v, want primary [1 0] (PRIMARY KEY order)", k.KeyKind, k.Key)
	}
	_, s = run(t, x, "DELETE FROM c")
	if len(s.rows) != 3 {
		t.Errorf("DELETE FROM a WITHOUT ROWID table imaged %d rows, want 3", len(s.rows))
	}
}

// TestDeleteWithoutWhere: SQLite's truncate shortcut would report no rows;
// with the hook installed it must not be taken.
func TestDeleteWithoutWhere(t *testing.T) {
	c, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, v);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO t SELECT i, i * 2 FROM n;`)
	res, s := run(t, x, "DELETE FROM t")
	if res.RowsAffected != 1000 || len(s.rows) != 1000 {
		t.Fatalf("DELETE FROM t: RowsAffected %d, %d images; want 1000", res.RowsAffected, len(s.rows))
	}
	if got := s.rows[999].String(); got != "D0 (1000,2000) -> -" {
		t.Errorf("last image %s", got)
	}
	if n := query(t, c, "SELECT count(*) FROM t"); n[0] != "(0)" {
		t.Errorf("rows left: %v", n)
	}
}

func TestReplaceAndUpsert(t *testing.T) {
	for _, tc := range []struct{ name, schema string }{
		{"rowid", "CREATE TABLE u(k TEXT PRIMARY KEY, v)"},
		{"without rowid", "CREATE TABLE u(k TEXT PRIMARY KEY, v) WITHOUT ROWID"},
		{"unique", "CREATE TABLE u(id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, x := session(t, tc.schema+"; INSERT INTO u(k, v) VALUES ('a', 1), ('b', 2);")
			_, s := run(t, x, "REPLACE INTO u(k, v) VALUES ('a', 10)")
			if got := s.rowsOf("u"); len(got) != 2 || got[0][0] != 'D' || got[1][0] != 'I' {
				t.Errorf("REPLACE images %q, want a delete then an insert", got)
			}
			_, s = run(t, x, "INSERT INTO u(k, v) VALUES ('b', 3) ON CONFLICT(k) DO UPDATE SET v = excluded.v")
			if got := s.rowsOf("u"); len(got) != 1 || !strings.HasPrefix(got[0], "U0") || !strings.HasSuffix(got[0], `"b",3)`) {
				t.Errorf("upsert images %q", got)
			}
			res, s := run(t, x, "INSERT INTO u(k, v) VALUES ('b', 4) ON CONFLICT DO NOTHING")
			if len(s.rows) != 0 || res.RowsAffected != 0 {
				t.Errorf("DO NOTHING imaged %v, affected %d", s.rows, res.RowsAffected)
			}
			_, s = run(t, x, "INSERT OR REPLACE INTO u(k, v) VALUES ('c', 5)")
			equal(t, "INSERT OR REPLACE of a new key", []string{s.rows[0].String()[:2]}, []string{"I0"})
			if n := query(t, c, "SELECT count(*) FROM u"); n[0] != "(3)" {
				t.Errorf("rows: %v", n)
			}
		})
	}
}

func TestForeignKeyActionsAtLevelOne(t *testing.T) {
	_, x := session(t, `CREATE TABLE p(id INTEGER PRIMARY KEY);
		CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE CASCADE ON UPDATE CASCADE);
		CREATE TABLE n(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE SET NULL);
		CREATE TABLE g(id INTEGER PRIMARY KEY, cid REFERENCES c ON DELETE CASCADE);
		INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (10, 1), (11, 2);
		INSERT INTO n VALUES (20, 1); INSERT INTO g VALUES (30, 10);`)
	res, s := run(t, x, "DELETE FROM p WHERE id = 1")
	equal(t, "parent", s.rowsOf("p"), []string{"D0 (1) -> -"})
	equal(t, "cascade", s.rowsOf("c"), []string{"D1 (10,1) -> -"})
	equal(t, "set null", s.rowsOf("n"), []string{"U1 (20,1) -> (20,NULL)"})
	equal(t, "grandchild", s.rowsOf("g"), []string{"D2 (30,10) -> -"})
	if res.RowsAffected != 1 || len(s.warns) != 0 {
		t.Errorf("RowsAffected %d (want 1: only the statement's own rows), warnings %q", res.RowsAffected, s.warns)
	}
	_, s = run(t, x, "UPDATE p SET id = 5 WHERE id = 2")
	equal(t, "on update cascade", s.rowsOf("c"), []string{"U1 (11,2) -> (11,5)"})
}

func TestTriggerWritesAreImagedWithWarning(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, v);
		CREATE TABLE audit(msg TEXT);
		CREATE TRIGGER tr AFTER UPDATE ON t BEGIN INSERT INTO audit VALUES ('changed ' || new.id); END;
		INSERT INTO t VALUES (1, 'a'), (2, 'b');`)
	_, s := run(t, x, "UPDATE t SET v = 'z'")
	equal(t, "trigger rows", s.rowsOf("audit"), []string{`I1 - -> ("changed 1")`, `I1 - -> ("changed 2")`})
	equal(t, "warnings", s.warns, []string{"triggers changed 2 rows in audit; they are imaged, and undo restores them without firing triggers"})
}

func TestTriggerOnForeignKeyChildWarns(t *testing.T) {
	// c is reachable by a foreign-key action of p, but when a trigger
	// writes it the warning must still be given; a cascade alone gives none.
	_, x := session(t, `CREATE TABLE p(id INTEGER PRIMARY KEY, v);
		CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE CASCADE, note);
		CREATE TRIGGER tr AFTER UPDATE ON p BEGIN UPDATE c SET note = 'parent changed' WHERE pid = new.id; END;
		INSERT INTO p VALUES (1, 'a'); INSERT INTO c VALUES (10, 1, NULL);`)
	_, s := run(t, x, "UPDATE p SET v = 'b'")
	equal(t, "trigger update", s.rowsOf("c"), []string{`U1 (10,1,NULL) -> (10,1,"parent changed")`})
	if len(s.warns) != 1 || !strings.Contains(s.warns[0], "1 row in c") {
		t.Errorf("warnings %q", s.warns)
	}
	_, s = run(t, x, "DELETE FROM p")
	equal(t, "cascade", s.rowsOf("c"), []string{`D1 (10,1,"parent changed") -> -`})
	if len(s.warns) != 0 {
		t.Errorf("a cascade alone warned: %q", s.warns)
	}
}

func TestKeylessDuplicates(t *testing.T) {
	_, x := session(t, `CREATE TABLE b(a, v); INSERT INTO b VALUES (1, 'x'), (1, 'x'), (2, 'y');`)
	_, s := run(t, x, "DELETE FROM b WHERE a = 1")
	equal(t, "both duplicates", s.rowsOf("b"), []string{`D0 (1,"x") -> -`, `D0 (1,"x") -> -`})
	if ti := s.tables[0]; ti.KeyKind != engine.KeyRow || !slices.Equal(ti.Key, []int{0, 1}) {
		t.Errorf("keyless table key = %s %v", ti.KeyKind, ti.Key)
	}
}

// TestGeneratedColumns: the hook counts generated columns; STORED ones
// carry their values, VIRTUAL ones have none and are imaged as NULL.
func TestGeneratedColumns(t *testing.T) {
	_, x := session(t, `CREATE TABLE g(a INTEGER, v INTEGER AS (a * 2) VIRTUAL, s INTEGER AS (a * 3) STORED, d TEXT);
		INSERT INTO g(a, d) VALUES (1, 'one');`)
	_, s := run(t, x, "UPDATE g SET a = 5")
	equal(t, "update", s.rowsOf("g"), []string{`U0 (1,NULL,3,"one") -> (5,NULL,15,"one")`})
	cols := s.tables[0].Columns
	if cols[0].Generated || !cols[1].Generated || !cols[2].Generated || cols[3].Generated {
		t.Errorf("Generated flags %+v", cols)
	}
	if ti := s.tables[0]; ti.KeyKind != engine.KeyRow || !slices.Equal(ti.Key, []int{0, 3}) {
		t.Errorf("key %s %v: generated columns must not be part of a row key", ti.KeyKind, ti.Key)
	}
	found, err := x.Fetch(context.Background(), s.tables[0], [][]engine.Value{{{K: kInt, I: 5}, textValue("one")}})
	if err != nil || len(found) != 1 || rowString(found[0].Row) != `(5,NULL,15,"one")` {
		t.Errorf("Fetch %+v, %v: must read rows as the hook images them", found, err)
	}
	_, s = run(t, x, "DROP TABLE g")
	equal(t, "rows of a dropped table", s.rowsOf("g"), []string{`D0 (5,NULL,15,"one") -> -`})
}

func TestTempTablesAreNotImaged(t *testing.T) {
	_, x := session(t, "CREATE TABLE t(x)")
	run(t, x, "CREATE TEMP TABLE scratch(x)")
	res, s := run(t, x, "INSERT INTO scratch VALUES (1), (2)")
	if len(s.rows) != 0 || len(s.objects) != 0 || res.RowsAffected != 2 {
		t.Errorf("temp table: %d images, %d objects, RowsAffected %d", len(s.rows), len(s.objects), res.RowsAffected)
	}
	_, s = run(t, x, "INSERT INTO t SELECT x FROM scratch")
	if len(s.rows) != 2 {
		t.Errorf("insert from a temp table imaged %d rows", len(s.rows))
	}
}

func TestReturningAndReads(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, at DATETIME, ok BOOLEAN, b BLOB);
		INSERT INTO t VALUES (1, '2024-01-02 03:04:05', 2, x'00'), (2, 1700000000, 'yes', NULL), (3, NULL, 0, '');`)
	res, s := run(t, x, "SELECT id, at, ok, b FROM t ORDER BY id")
	if strings.Join(res.Columns, ",") != "id,at,ok,b" || len(s.rows) != 0 {
		t.Fatalf("columns %v, images %d", res.Columns, len(s.rows))
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, rowString(r))
	}
	// DATETIME text stays text, BOOLEAN 2 stays 2: no driver conversions.
	equal(t, "rows", got, []string{`(1,"2024-01-02 03:04:05",2,x00)`, `(2,1700000000,"yes",NULL)`, `(3,NULL,0,"")`})

	res, err := x.Exec(context.Background(), engine.Statement{Text: "SELECT * FROM t"}, &recSink{}, engine.ExecOptions{MaxResultRows: 2})
	if err != nil || len(res.Rows) != 2 || !res.Truncated {
		t.Errorf("MaxResultRows 2: %d rows, truncated %v, %v", len(res.Rows), res.Truncated, err)
	}
	res, s = run(t, x, "DELETE FROM t WHERE id >= 2 RETURNING id")
	if len(res.Rows) != 2 || res.RowsAffected != 2 || len(s.rows) != 2 || res.Columns[0] != "id" {
		t.Errorf("RETURNING: rows %v, affected %d, images %d", res.Rows, res.RowsAffected, len(s.rows))
	}
	res, _ = run(t, x, "PRAGMA table_info(t)")
	if len(res.Rows) != 4 {
		t.Errorf("PRAGMA table_info returned %d rows", len(res.Rows))
	}
	res, s = run(t, x, "EXPLAIN DELETE FROM t")
	if len(s.rows) != 0 || len(res.Rows) == 0 {
		t.Errorf("EXPLAIN: %d images, %d rows", len(s.rows), len(res.Rows))
	}
}

func TestStatementChecks(t *testing.T) {
	c, x := session(t, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	for _, tc := range []struct{ sql, err string }{
		{"DELETE FROM t; DELETE FROM t", "more than one statement"},
		{"BEGIN", "transaction control"},
		{"SAVEPOINT s", "transaction control"},
		{"COMMIT", "transaction control"},
		{"DELETE FROM nosuch", "no such table"},
		{"DELETE FROM t WHERE x = 'a\x00b'", "NUL byte"},
	} {
		_, err := x.Exec(context.Background(), engine.Statement{Text: tc.sql}, &recSink{}, engine.ExecOptions{AllowUnguarded: true})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.sql, err, tc.err)
		}
	}
	if n := query(t, c, "SELECT count(*) FROM t"); n[0] != "(1)" {
		t.Errorf("a refused statement ran: %v", n)
	}
	if res, s := run(t, x, " -- only a comment\n"); len(s.rows) != 0 || res.Columns != nil {
		t.Errorf("comment-only statement: %+v", res)
	}
}

func TestUnguarded(t *testing.T) {
	schema := `CREATE TABLE t(x); INSERT INTO t VALUES (1);
		CREATE VIRTUAL TABLE f USING fts4(body); INSERT INTO f VALUES ('hello');
		CREATE TABLE feed(msg); CREATE TRIGGER tf AFTER INSERT ON feed BEGIN INSERT INTO f VALUES (new.msg); END;`
	refused := []struct{ sql, reason string }{
		{"VACUUM", "VACUUM"},
		{"ATTACH ':memory:' AS other", "ATTACH"},
		{"PRAGMA foreign_keys = OFF", "foreign_keys"},
		{"PRAGMA foreign_keys(0)", "foreign_keys"},
		{"PRAGMA main.user_version = 7", "user_version"},
		{"PRAGMA journal_mode = DELETE", "journal_mode"},
		{"INSERT INTO f VALUES ('x')", "virtual table f"},
		{"DELETE FROM f", "virtual table f"},
		{"INSERT INTO feed VALUES ('via trigger')", "virtual table f"},
		{"DROP TABLE f", "virtual table f"},
	}
	for _, tc := range refused {
		t.Run(tc.sql, func(t *testing.T) {
			c, x := session(t, schema)
			before := query(t, c, "SELECT (SELECT count(*) FROM t) || '/' || (SELECT count(*) FROM f) || '/' || (SELECT count(*) FROM feed)")
			s := &recSink{}
			_, err := x.Exec(context.Background(), engine.Statement{Text: tc.sql}, s, engine.ExecOptions{})
			var ue *engine.UnguardedError
			if !errors.As(err, &ue) || !strings.Contains(ue.Reason, tc.reason) || ue.Statement != tc.sql {
				t.Fatalf("error %v, want UnguardedError mentioning %q", err, tc.reason)
			}
			if after := query(t, c, "SELECT (SELECT count(*) FROM t) || '/' || (SELECT count(*) FROM f) || '/' || (SELECT count(*) FROM feed)"); !slices.Equal(before, after) || len(s.rows)+len(s.objects) != 0 {
				t.Fatalf("a refused statement ran: %v -> %v", before, after)
			}
			if tc.sql == "VACUUM" {
				return // VACUUM cannot run inside a transaction at all
			}
			res, err := x.Exec(context.Background(), engine.Statement{Text: tc.sql}, s, engine.ExecOptions{AllowUnguarded: true})
			if err != nil || !res.Unguarded || len(s.rows) != 0 {
				t.Errorf("allowed: %+v, %v, %d images", res, err, len(s.rows))
			}
		})
	}
	_, x := session(t, schema)
	for _, q := range []string{"PRAGMA user_version", "PRAGMA foreign_key_check", "PRAGMA integrity_check(5)", "REINDEX", "ANALYZE", "SELECT * FROM f WHERE f MATCH 'hello'"} {
		if res, s := run(t, x, q); res.Unguarded || len(s.objects) != 0 {
			t.Errorf("%s: %+v, objects %v", q, res, s.objects)
		}
	}
}

// TestSinkErrorAbortsStatement: the hook cannot return an error, so the
// first failing Sink.Row must stop the statement and fail Exec: inside
// sqlite3_step when a full batch fails (SQLite then rolls back the whole
// transaction), after it when the last batch does.
func TestSinkErrorAbortsStatement(t *testing.T) {
	for _, tc := range []struct {
		rows, failAt int
		inStep       bool
	}{{500, 3, false}, {5000, 1500, true}} {
		t.Run(fmt.Sprint(tc.rows), func(t *testing.T) {
			path := newFile(t, fmt.Sprintf(`CREATE TABLE t(id INTEGER PRIMARY KEY);
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) INSERT INTO t SELECT i FROM n;`, tc.rows))
			c := openConn(t, path)
			x := begin(t, c)
			s := &recSink{failAt: tc.failAt}
			_, err := x.Exec(context.Background(), engine.Statement{Text: "DELETE FROM t"}, s, engine.ExecOptions{})
			if err == nil || !strings.Contains(err.Error(), "journal full") {
				t.Fatalf("Exec error %v, want the sink's", err)
			}
			if s.calls != tc.failAt {
				t.Errorf("Row was called %d times; it must not be called after it failed (at %d)", s.calls, tc.failAt)
			}
			if tc.inStep != x.done || tc.inStep != strings.Contains(err.Error(), "rolled back the whole transaction") {
				t.Errorf("interrupted in step: %v, transaction ended: %v (%v)", tc.inStep, x.done, err)
			}
			x.Rollback(context.Background())
			if n := query(t, c, "SELECT count(*) FROM t"); n[0] != fmt.Sprintf("(%d)", tc.rows) {
				t.Errorf("rows after the failed statement: %v", n)
			}
			if _, err := x.Exec(context.Background(), engine.Statement{Text: "DELETE FROM t"}, &recSink{}, engine.ExecOptions{}); err == nil {
				t.Error("Exec on an ended transaction succeeded")
			}
		})
	}
}

type panicSink struct{ recSink }

func (s *panicSink) Row(int64, engine.Op, []engine.Value, []engine.Value) error { panic("sink bug") }

// TestSinkPanicInsideStep: a panic in a batch handled inside sqlite3_step
// must not unwind through SQLite's C frames; it fails the statement.
func TestSinkPanicInsideStep(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO t SELECT i FROM n;`)
	_, err := x.Exec(context.Background(), engine.Statement{Text: "DELETE FROM t"}, &panicSink{}, engine.ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "panic: sink bug") {
		t.Fatalf("Exec error %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO t SELECT i FROM n;`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := x.Exec(ctx, engine.Statement{Text: "DELETE FROM t"}, &recSink{}, engine.ExecOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Exec with a cancelled context: %v", err)
	}
}

func TestSchemaChangesWithinTransaction(t *testing.T) {
	_, x := session(t, "CREATE TABLE t(x)")
	run(t, x, "CREATE TABLE n(id INTEGER PRIMARY KEY, v)")
	_, s := run(t, x, "INSERT INTO n VALUES (1, 'a')")
	equal(t, "rows of a table created in the same transaction", s.rowsOf("n"), []string{`I0 - -> (1,"a")`})
	run(t, x, "ALTER TABLE n ADD COLUMN w DEFAULT 'dflt'")
	_, s = run(t, x, "DELETE FROM n")
	equal(t, "after ADD COLUMN", s.rowsOf("n"), []string{`D0 (1,"a","dflt") -> -`})
}

func TestAdversarialIdentifiers(t *testing.T) {
	names := []string{`we"ird`, `[br]ackets`, `semi;colon`, `sp ace`, `ünï cødé`, `order`, `select`, `x"; DROP TABLE t; --`, "`tick`", `''`}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tq := QuoteIdent(name + "_t")
			col := QuoteIdent(name)
			_, x := session(t, fmt.Sprintf("CREATE TABLE %s(%s INTEGER PRIMARY KEY, %s TEXT); CREATE TABLE t(x); INSERT INTO %s VALUES (1, 'a'), (2, 'b');",
				tq, QuoteIdent(name+"_id"), col, tq))
			_, s := run(t, x, fmt.Sprintf("UPDATE %s SET %s = 'z' WHERE %s = 1", tq, col, QuoteIdent(name+"_id")))
			if len(s.rows) != 1 || s.tables[0].Name != name+"_t" || s.tables[0].Columns[1].Name != name {
				t.Fatalf("images %v tables %+v", s.rows, s.tables)
			}
			_, s = run(t, x, "DROP TABLE "+tq)
			if len(s.objects) != 1 || s.objects[0].Name != name+"_t" || len(s.rows) != 2 {
				t.Fatalf("DROP TABLE: objects %+v, %d rows", s.objects, len(s.rows))
			}
			if err := x.ExecDDL(context.Background(), s.objects[0].Before.Create); err != nil {
				t.Fatalf("re-creating: %v", err)
			}
			if err := x.Insert(context.Background(), s.tables[0], [][]engine.Value{s.rows[0].before}); err != nil {
				t.Fatalf("re-inserting: %v", err)
			}
		})
	}
}

// TestImagesKeepStorageClass: the hook reports each value exactly as
// SQLite stores it (untyped columns keep whatever was bound; a REAL column
// stores 3.0 compactly as an integer, yet it is a REAL).
func TestImagesKeepStorageClass(t *testing.T) {
	c, x := session(t, "CREATE TABLE v(id INTEGER PRIMARY KEY, any, r REAL, i INTEGER)")
	ctx := context.Background()
	for i, v := range literalCases {
		if err := c.cc.exec(ctx, "INSERT INTO v VALUES (?, ?, 3.0, '12')", engine.Value{K: kInt, I: int64(i)}, v); err != nil {
			t.Fatal(err)
		}
	}
	_, s := run(t, x, "DELETE FROM v")
	if len(s.rows) != len(literalCases) {
		t.Fatalf("%d images", len(s.rows))
	}
	for i, r := range s.rows {
		if !r.before[1].Equal(literalCases[i]) {
			t.Errorf("image of %s is %s", valString(literalCases[i]), valString(r.before[1]))
		}
		if r.before[2].K != kFloat || r.before[2].F != 3 || r.before[3].K != kInt || r.before[3].I != 12 {
			t.Errorf("typed columns imaged as %s, %s", valString(r.before[2]), valString(r.before[3]))
		}
	}
	// Bytes are copied out of SQLite's memory, not aliased.
	_, s = run(t, x, "INSERT INTO v VALUES (100, x'0102', 0, 0)")
	_, s2 := run(t, x, "UPDATE v SET any = x'0304' WHERE id = 100")
	if valString(s.rows[0].after[1]) != "x0102" || valString(s2.rows[0].before[1]) != "x0102" {
		t.Errorf("blob images changed under us: %s %s", valString(s.rows[0].after[1]), valString(s2.rows[0].before[1]))
	}
}

func TestLargeValues(t *testing.T) {
	c, x := session(t, "CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, s TEXT)")
	ctx := context.Background()
	blob := make([]byte, 20<<20)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	text := strings.Repeat("ü", 3<<20)
	if err := c.cc.exec(ctx, "INSERT INTO big VALUES (1, ?, ?)", engine.Value{K: kBytes, B: blob}, textValue(text)); err != nil {
		t.Fatal(err)
	}
	_, s := run(t, x, "DELETE FROM big")
	if len(s.rows) != 1 || string(s.rows[0].before[1].B) != string(blob) || s.rows[0].before[2].S != text {
		t.Fatal("large values were not imaged exactly")
	}
	if x.c.cc.p.capbytes > maxIdleArena {
		t.Errorf("the %d-byte arena was kept after the batch", x.c.cc.p.capbytes)
	}
}
