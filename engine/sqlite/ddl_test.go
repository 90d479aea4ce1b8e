package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
)

func TestDropTable(t *testing.T) {
	c, x := session(t, `CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
		CREATE INDEX p_v ON p(v);
		CREATE UNIQUE INDEX "p ""u""" ON p(v, id);
		CREATE TRIGGER p_tr AFTER INSERT ON p BEGIN SELECT 1; END;
		CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE CASCADE);
		CREATE TABLE n(id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE SET NULL);
		CREATE VIEW pv AS SELECT * FROM p;
		INSERT INTO p(v) VALUES ('a'), ('b'), ('c'); DELETE FROM p WHERE id = 3;
		INSERT INTO c VALUES (10, 1); INSERT INTO n VALUES (20, 2);`)
	_, s := run(t, x, "DROP TABLE p")
	if len(s.objects) != 1 {
		t.Fatalf("objects %+v, want only the table (its index and trigger are in its definition)", s.objects)
	}
	o := s.objects[0]
	if o.Kind != "TABLE" || o.Name != "p" || o.Action != engine.ActionDrop || o.Before == nil || o.After != nil {
		t.Fatalf("object %+v", o)
	}
	if o.Table == 0 || s.tables[o.Table-1].Name != "p" {
		t.Errorf("object Table handle %d does not name p's images", o.Table)
	}
	equal(t, "Create", o.Before.Create, []string{"CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)"})
	equal(t, "PostData", o.Before.PostData, []string{
		"CREATE INDEX p_v ON p(v)",
		`CREATE UNIQUE INDEX "p ""u""" ON p(v, id)`,
		"CREATE TRIGGER p_tr AFTER INSERT ON p BEGIN SELECT 1; END",
		"UPDATE sqlite_sequence SET seq = 3 WHERE name = 'p' AND seq < 3",
		"INSERT INTO sqlite_sequence(name, seq) SELECT 'p', 3 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'p')",
	})
	equal(t, "Drop", o.Before.Drop, []string{`DROP TABLE "p"`})
	if !strings.HasPrefix(o.Before.Text, "CREATE TABLE p(") || !strings.HasSuffix(o.Before.Text, ";") {
		t.Errorf("Text %q", o.Before.Text)
	}
	// Every row of p once (not again from the implicit DELETE that
	// foreign keys make DROP TABLE run), and the children it cascaded to.
	equal(t, "rows of p", s.rowsOf("p"), []string{`D0 (1,"a") -> -`, `D0 (2,"b") -> -`})
	equal(t, "cascade", s.rowsOf("c"), []string{"D1 (10,1) -> -"})
	equal(t, "set null", s.rowsOf("n"), []string{"U1 (20,2) -> (20,NULL)"})

	// The definition re-creates the table exactly.
	if err := x.ExecDDL(context.Background(), o.Before.Create); err != nil {
		t.Fatal(err)
	}
	var rows [][]engine.Value
	for _, r := range s.rows {
		if r.table == "p" {
			rows = append(rows, r.before)
		}
	}
	if err := x.Insert(context.Background(), s.tables[o.Table-1], rows); err != nil {
		t.Fatal(err)
	}
	if err := x.ExecDDL(context.Background(), o.Before.PostData); err != nil {
		t.Fatal(err)
	}
	equal(t, "catalog after re-creation", query(t, c, "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'p' ORDER BY name"), []string{
		`("table","p","CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")`,
		`("index","p \"u\"","CREATE UNIQUE INDEX \"p \"\"u\"\"\" ON p(v, id)")`,
		`("trigger","p_tr","CREATE TRIGGER p_tr AFTER INSERT ON p BEGIN SELECT 1; END")`,
		`("index","p_v","CREATE INDEX p_v ON p(v)")`,
	})
	equal(t, "sequence", query(t, c, "SELECT seq FROM sqlite_sequence WHERE name = 'p'"), []string{"(3)"})
}

func TestDropAndCreateObjects(t *testing.T) {
	c, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, v);
		CREATE VIEW "my view" AS SELECT v FROM t;
		CREATE INDEX t_v ON t(v);
		CREATE TRIGGER t_tr AFTER DELETE ON t BEGIN SELECT 1; END;`)
	for _, tc := range []struct{ sql, kind, name, def string }{
		{`DROP VIEW "my view"`, "VIEW", "my view", `CREATE VIEW "my view" AS SELECT v FROM t`},
		{"DROP INDEX t_v", "INDEX", "t_v", "CREATE INDEX t_v ON t(v)"},
		{"DROP TRIGGER t_tr", "TRIGGER", "t_tr", "CREATE TRIGGER t_tr AFTER DELETE ON t BEGIN SELECT 1; END"},
	} {
		_, s := run(t, x, tc.sql)
		if len(s.objects) != 1 || s.objects[0].Kind != tc.kind || s.objects[0].Name != tc.name || s.objects[0].Action != engine.ActionDrop {
			t.Fatalf("%s: objects %+v", tc.sql, s.objects)
		}
		b := s.objects[0].Before
		equal(t, tc.sql+" Create", b.Create, []string{tc.def})
		equal(t, tc.sql+" Drop", b.Drop, []string{"DROP " + tc.kind + " " + QuoteIdent(tc.name)})
		// Undo runs Create; the script may run it twice through IfAbsent.
		if err := x.ExecDDL(context.Background(), b.Create); err != nil {
			t.Fatal(err)
		}
		if err := x.ExecDDL(context.Background(), Driver{}.IfAbsent(tc.kind, "", tc.name, b.Create)); err != nil {
			t.Errorf("IfAbsent of an existing %s: %v", tc.kind, err)
		}
	}

	for _, tc := range []struct{ sql, kind, name string }{
		{`CREATE TABLE "new ""t"""(a, b)`, "TABLE", `new "t"`},
		{"CREATE TABLE copy AS SELECT * FROM t", "TABLE", "copy"},
		{"CREATE VIEW v2 AS SELECT 1", "VIEW", "v2"},
		{"CREATE INDEX i2 ON t(v, id)", "INDEX", "i2"},
		{"CREATE TRIGGER tr2 BEFORE INSERT ON t BEGIN SELECT 1; END", "TRIGGER", "tr2"},
		{"CREATE VIRTUAL TABLE ft USING fts4(body)", "TABLE", "ft"},
	} {
		_, s := run(t, x, tc.sql)
		if len(s.objects) != 1 || len(s.rows) != 0 {
			t.Fatalf("%s: objects %+v, rows %v", tc.sql, s.objects, s.rows)
		}
		o := s.objects[0]
		if o.Kind != tc.kind || o.Name != tc.name || o.Action != engine.ActionCreate || o.After == nil || o.Before != nil {
			t.Fatalf("%s: object %+v", tc.sql, o)
		}
		equal(t, tc.sql+" Drop", o.After.Drop, []string{"DROP " + tc.kind + " " + QuoteIdent(tc.name)})
		if len(o.After.Create) != 1 || !strings.HasPrefix(o.After.Create[0], "CREATE ") {
			t.Errorf("%s: Create %q", tc.sql, o.After.Create)
		}
		// Undo runs Drop; the script runs it through IfPresent, twice.
		if err := x.ExecDDL(context.Background(), o.After.Drop); err != nil {
			t.Fatal(err)
		}
		if err := x.ExecDDL(context.Background(), Driver{}.IfPresent(tc.kind, "", tc.name, o.After.Drop)); err != nil {
			t.Errorf("IfPresent of a dropped %s: %v", tc.kind, err)
		}
		if ok, _ := x.ObjectExists(context.Background(), tc.kind, "", tc.name); ok {
			t.Errorf("%s still exists", tc.name)
		}
	}
	// CREATE ... IF NOT EXISTS of an existing object created nothing.
	_, s := run(t, x, "CREATE TABLE IF NOT EXISTS t(other)")
	if len(s.objects) != 0 {
		t.Errorf("no-op CREATE imaged %+v", s.objects)
	}
	if got := query(t, c, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'"); got[0] != "(0)" {
		t.Fatal("unexpected stat tables")
	}
	if _, s := run(t, x, "ANALYZE"); len(s.objects) != 0 {
		t.Errorf("ANALYZE imaged SQLite's own sqlite_stat1 as a created object: %+v", s.objects)
	}
}

func TestAlterTable(t *testing.T) {
	_, x := session(t, `CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT); CREATE INDEX t_a ON t(a);
		INSERT INTO t VALUES (1, 'x', 'y');`)
	for _, tc := range []struct{ sql, name, after, revert, redo string }{
		{"ALTER TABLE t ADD COLUMN c DEFAULT 5", "t", "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT, c DEFAULT 5)",
			`ALTER TABLE main."t" DROP COLUMN "c"`, `ALTER TABLE main."t" ADD COLUMN c DEFAULT 5`},
		{"ALTER TABLE t RENAME COLUMN b TO bee", "t", `CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, bee TEXT, c DEFAULT 5)`,
			`ALTER TABLE main."t" RENAME COLUMN "bee" TO b`, `ALTER TABLE main."t" RENAME COLUMN "b" TO bee`},
		{"ALTER TABLE t DROP COLUMN bee", "t", "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, c DEFAULT 5)",
			`ALTER TABLE main."t" ADD COLUMN "bee" TEXT`, `ALTER TABLE main."t" DROP COLUMN "bee"`},
		{`ALTER TABLE t RENAME TO "t 2"`, "t", `CREATE TABLE "t 2"(id INTEGER PRIMARY KEY, a TEXT, c DEFAULT 5)`,
			`ALTER TABLE main."t 2" RENAME TO t`, `ALTER TABLE main."t" RENAME TO "t 2"`},
	} {
		_, s := run(t, x, tc.sql)
		if len(s.objects) != 1 {
			t.Fatalf("%s: objects %+v", tc.sql, s.objects)
		}
		o := s.objects[0]
		if o.Kind != "TABLE" || o.Name != tc.name || o.Action != engine.ActionAlter || o.Before == nil || o.After == nil {
			t.Fatalf("%s: object %+v", tc.sql, o)
		}
		equal(t, tc.sql+" after", o.After.Create, []string{tc.after})
		if !slices.Equal(o.Before.PostData, []string{"CREATE INDEX t_a ON t(a)"}) {
			t.Errorf("%s: Before.PostData %q", tc.sql, o.Before.PostData)
		}
		// DROP COLUMN images every row: the column's values are gone.
		if wantRows := strings.Contains(tc.sql, "DROP COLUMN"); (len(s.rows) == 1) != wantRows || (wantRows && o.Table == 0) {
			t.Errorf("%s: rows %v, table %d", tc.sql, s.rows, o.Table)
		}
		var revert, redo string
		if o.After.Revert != nil {
			revert = strings.Join(o.After.Revert.Statements, "; ")
		}
		if o.Before.Revert != nil {
			redo = strings.Join(o.Before.Revert.Statements, "; ")
		}
		if revert != tc.revert || redo != tc.redo {
			t.Errorf("%s: revert %q and redo %q, want %q and %q", tc.sql, revert, redo, tc.revert, tc.redo)
		}
	}
}
