package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
)

// dump is a table's exact content (storage class and bytes), sorted.
func dump(t *testing.T, c *conn, table string) []string {
	t.Helper()
	rows := query(t, c, "SELECT * FROM "+QuoteIdent(table))
	slices.Sort(rows)
	return rows
}

// values holds one value of every storage class and the awkward ones.
const values = `(1), (-9223372036854775808), (1.5), (-0.0), (9e999), ('text'), (''), ('a' || char(0) || 'b'),
	(CAST(x'ff00fe' AS TEXT)), (x''), (x'00ff'), (NULL), ('1'), (x'31')`

func TestApplierRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, schema, insert, add string }{
		{"integer primary key", "CREATE TABLE t(id INTEGER PRIMARY KEY, v, w TEXT COLLATE NOCASE)",
			"INSERT INTO t(v) VALUES " + values, "INSERT INTO t(v) SELECT v FROM t"},
		{"composite without rowid", "CREATE TABLE t(a TEXT, b INTEGER, v, PRIMARY KEY (a, b)) WITHOUT ROWID",
			"INSERT INTO t(a, b, v) SELECT 'k', row_number() OVER (), column1 FROM (VALUES " + values + ")",
			"INSERT INTO t(a, b, v) SELECT 'n', b, v FROM t"},
		{"nullable text primary key", "CREATE TABLE t(k TEXT PRIMARY KEY, v)",
			"INSERT INTO t(k, v) SELECT CASE WHEN column1 IS NULL THEN NULL ELSE 'k' || row_number() OVER () END, column1 FROM (VALUES " + values + ", (NULL))",
			"INSERT INTO t(k, v) SELECT 'n' || k, v FROM t"},
		{"unique not null", "CREATE TABLE t(a INTEGER NOT NULL UNIQUE, v)",
			"INSERT INTO t(a, v) SELECT row_number() OVER () * 10, column1 FROM (VALUES " + values + ")",
			"INSERT INTO t(a, v) SELECT a + 1000, v FROM t"},
		{"keyless with duplicates", "CREATE TABLE t(v, w)",
			"INSERT INTO t(v, w) SELECT column1, 'd' FROM (VALUES " + values + ", " + values + ")",
			"INSERT INTO t SELECT * FROM t"},
		{"generated", "CREATE TABLE t(id INTEGER PRIMARY KEY, v, g AS (typeof(v)) STORED, h AS (id * 2))",
			"INSERT INTO t(v) VALUES " + values, "INSERT INTO t(v) SELECT v FROM t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, x := session(t, tc.schema+"; "+tc.insert+";")
			ctx := context.Background()
			orig := dump(t, c, "t")
			if len(orig) < 14 {
				t.Fatalf("setup gave %d rows", len(orig))
			}
			if _, err := x.PrepareUndo(ctx); err != nil {
				t.Fatal(err)
			}

			_, s := run(t, x, "UPDATE t SET v = 'changed'")
			ti := s.tables[0]
			var keys, rows [][]engine.Value
			for _, r := range s.rows {
				keys = append(keys, ti.KeyOf(r.after))
				rows = append(rows, r.before)
			}
			if err := x.Update(ctx, ti, keys, rows); err != nil {
				t.Fatal(err)
			}
			equal(t, "after undoing UPDATE", dump(t, c, "t"), orig)

			_, s = run(t, x, "DELETE FROM t")
			rows = rows[:0]
			for _, r := range s.rows {
				rows = append(rows, r.before)
			}
			if err := x.Insert(ctx, s.tables[0], rows); err != nil {
				t.Fatal(err)
			}
			equal(t, "after undoing DELETE", dump(t, c, "t"), orig)

			_, s = run(t, x, tc.add)
			keys = keys[:0]
			for _, r := range s.rows {
				keys = append(keys, s.tables[0].KeyOf(r.after))
			}
			if len(keys) < 14 {
				t.Fatalf("%s imaged %d rows", tc.add, len(keys))
			}
			if err := x.Delete(ctx, s.tables[0], keys); err != nil {
				t.Fatal(err)
			}
			equal(t, "after undoing INSERT", dump(t, c, "t"), orig)
		})
	}
}

func TestFetch(t *testing.T) {
	_, x := session(t, `CREATE TABLE b(v, w, g AS (w || '!'));
		INSERT INTO b(v, w) VALUES (1, 'x'), (1, 'x'), (1.0, 'x'), ('1', 'x'), (NULL, NULL);
		CREATE TABLE k(id INTEGER PRIMARY KEY, v); INSERT INTO k VALUES (1, 'a');`)
	ctx := context.Background()
	_, s := run(t, x, "UPDATE b SET w = w")
	tb := s.tables[0]
	one, real, text, null := engine.Value{K: kInt, I: 1}, engine.Value{K: kFloat, F: 1}, textValue("1"), engine.Value{}
	x1 := textValue("x")
	found, err := x.Fetch(ctx, tb, [][]engine.Value{{one, x1}, {real, x1}, {text, x1}, {null, null}, {one, textValue("X")}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, rowString(f.Row)+"x"+strings.Repeat("I", f.Count))
	}
	// 1, 1.0 and '1' are different values; generated g is NULL as in images.
	equal(t, "keyless fetch", got, []string{`(1,"x",NULL)xII`, `(1f,"x",NULL)xI`, `("1","x",NULL)xI`, "(NULL,NULL,NULL)xI", "-x"})
	if rowString(found[0].Row) != rowString(s.rows[0].before) {
		t.Errorf("Fetch row %s differs from the image %s", rowString(found[0].Row), rowString(s.rows[0].before))
	}

	_, s = run(t, x, "UPDATE k SET v = v")
	found, err = x.Fetch(ctx, s.tables[0], [][]engine.Value{{one}, {engine.Value{K: kInt, I: 2}}})
	if err != nil || found[0].Count != 1 || rowString(found[0].Row) != `(1,"a")` || found[1].Count != 0 || found[1].Row != nil {
		t.Errorf("keyed fetch %+v, %v", found, err)
	}
}

func TestDeleteAndUpdateOneDuplicate(t *testing.T) {
	c, x := session(t, "CREATE TABLE b(v); INSERT INTO b VALUES (1), (1), (1);")
	ctx := context.Background()
	_, s := run(t, x, "UPDATE b SET v = v")
	tb := s.tables[0]
	one := []engine.Value{{K: kInt, I: 1}}
	if err := x.Delete(ctx, tb, [][]engine.Value{one}); err != nil {
		t.Fatal(err)
	}
	equal(t, "after deleting one duplicate", dump(t, c, "b"), []string{"(1)", "(1)"})
	if err := x.Update(ctx, tb, [][]engine.Value{one}, [][]engine.Value{{textValue("u")}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "after updating one duplicate", dump(t, c, "b"), []string{`("u")`, "(1)"})
	missing := [][]engine.Value{{{K: kInt, I: 9}}}
	if err := x.Delete(ctx, tb, missing); err == nil || !strings.Contains(err.Error(), "expected 1") {
		t.Errorf("Delete of a missing row: %v", err)
	}
	if err := x.Update(ctx, tb, missing, missing); err == nil || !strings.Contains(err.Error(), "expected 1") {
		t.Errorf("Update of a missing row: %v", err)
	}
}

// TestApplierWritesAreNotImaged: the hook forwards nothing outside Exec.
func TestApplierWritesAreNotImaged(t *testing.T) {
	_, x := session(t, "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 'a');")
	_, s := run(t, x, "DELETE FROM t")
	if err := x.Insert(context.Background(), s.tables[0], [][]engine.Value{s.rows[0].before}); err != nil {
		t.Fatal(err)
	}
	if len(s.rows) != 1 || x.c.cc.state.capture != nil || x.c.cc.p.active != 0 {
		t.Errorf("undo writes reached the sink: %v", s.rows)
	}
}

func TestPrepareUndo(t *testing.T) {
	c, x := session(t, `CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p);
		CREATE TABLE "audit log"(m); CREATE TRIGGER tr AFTER INSERT ON c BEGIN INSERT INTO "audit log" VALUES (1); END;
		INSERT INTO p VALUES (1); INSERT INTO c VALUES (10, 1);`)
	ctx := context.Background()
	notes, err := x.PrepareUndo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "defer_foreign_keys") || !strings.Contains(notes[1], "triggers on c did not fire") {
		t.Errorf("notes %q", notes)
	}
	if got := query(t, c, "PRAGMA defer_foreign_keys"); got[0] != "(1)" {
		t.Errorf("defer_foreign_keys = %v", got)
	}
	// A child restored before its parent is fine until COMMIT.
	_, s := run(t, x, "INSERT INTO p VALUES (2)")
	pTable := s.tables[0]
	if err := x.Delete(ctx, pTable, [][]engine.Value{{{K: kInt, I: 1}}}); err == nil {
		// ON DELETE NO ACTION is checked at COMMIT when deferred.
		if err := x.Insert(ctx, pTable, [][]engine.Value{{{K: kInt, I: 1}}}); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Fatalf("deleting a referenced parent with checks deferred: %v", err)
	}
	if err := x.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestObjectExistsAndCountRows(t *testing.T) {
	_, x := session(t, `CREATE TABLE "Mixed Case"(x); INSERT INTO "Mixed Case" VALUES (1), (2);
		CREATE VIEW v AS SELECT 1; CREATE INDEX i ON "Mixed Case"(x); CREATE TRIGGER tr AFTER INSERT ON "Mixed Case" BEGIN SELECT 1; END;`)
	ctx := context.Background()
	for _, tc := range []struct {
		kind, schema, name string
		want               bool
	}{
		{"TABLE", "", "Mixed Case", true}, {"TABLE", "main", "mixed case", true}, {"VIEW", "", "v", true},
		{"INDEX", "", "i", true}, {"TRIGGER", "", "tr", true}, {"TABLE", "", "v", false}, {"TABLE", "", "nope", false},
		{"TABLE", "temp", "Mixed Case", false},
	} {
		got, err := x.ObjectExists(ctx, tc.kind, tc.schema, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ObjectExists(%s, %q, %q) = %v, %v", tc.kind, tc.schema, tc.name, got, err)
		}
	}
	if _, err := x.ObjectExists(ctx, "SEQUENCE", "", "s"); err == nil {
		t.Error("ObjectExists of a SEQUENCE did not fail")
	}
	if n, err := x.CountRows(ctx, "", "Mixed Case"); err != nil || n != 2 {
		t.Errorf("CountRows = %d, %v", n, err)
	}
}

func TestSyncSequences(t *testing.T) {
	c, x := session(t, `CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v); INSERT INTO a(v) VALUES (1), (2), (3);
		CREATE TABLE plain(id INTEGER PRIMARY KEY, v); INSERT INTO plain VALUES (7, 1);`)
	ctx := context.Background()
	if err := x.c.cc.exec(ctx, "UPDATE sqlite_sequence SET seq = 1"); err != nil {
		t.Fatal(err)
	}
	_, s := run(t, x, "UPDATE a SET v = v")
	if err := x.SyncSequences(ctx, s.tables[0]); err != nil {
		t.Fatal(err)
	}
	_, s = run(t, x, "UPDATE plain SET v = v")
	if err := x.SyncSequences(ctx, s.tables[0]); err != nil {
		t.Fatal(err)
	}
	equal(t, "sqlite_sequence", query(t, c, "SELECT name, seq FROM sqlite_sequence"), []string{`("a",3)`})
}

// TestInsertSplitsLargeRows: rows whose values together exceed what one
// INSERT binds go in several statements, and come back exactly.
func TestInsertSplitsLargeRows(t *testing.T) {
	path := newFile(t, `CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, s TEXT);`)
	ctx := context.Background()
	c := openConn(t, path)
	ti := engine.TableInfo{Name: "big", Columns: []engine.Column{{Name: "id", Type: "INTEGER"}, {Name: "b", Type: "BLOB"},
		{Name: "s", Type: "TEXT"}}, Key: []int{0}, KeyKind: engine.KeyPrimary}
	const n = 40 // 40 MiB in all, more than two statements' worth
	rows := make([][]engine.Value, n)
	for i := range rows {
		blob := bytes.Repeat([]byte{byte(i), 0}, 1<<19)
		rows[i] = []engine.Value{{K: kInt, I: int64(i + 1)}, {K: kBytes, B: blob}, {K: kText, S: strings.Repeat("x", i)}}
	}
	x, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Rollback(ctx)
	if err := x.(*tx).Insert(ctx, ti, rows); err != nil {
		t.Fatal(err)
	}
	got := 0
	err = x.(*tx).c.cc.query(ctx, "SELECT id, b, s FROM big ORDER BY id", nil, func(r []engine.Value) error {
		want := rows[got]
		if r[0].I != want[0].I || !bytes.Equal(r[1].B, want[1].B) || r[2].S != want[2].S || r[2].K != kText {
			return fmt.Errorf("row %d differs", got+1)
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("read back %d rows: %v", got, err)
	}
}
