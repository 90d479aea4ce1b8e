package sqlite

import (
	"context"
	"fmt"
	"testing"

	"lifebelt/engine"
)

func TestKeyChoice(t *testing.T) {
	for _, tc := range []struct {
		schema string
		kind   string
		key    string
	}{
		{"CREATE TABLE t(id INTEGER PRIMARY KEY, v)", engine.KeyPrimary, "[id]"},
		{"CREATE TABLE t(a, b, v, PRIMARY KEY (b, a)) WITHOUT ROWID", engine.KeyPrimary, "[b a]"},
		{"CREATE TABLE t(a TEXT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))", engine.KeyPrimary, "[a b]"},
		// A nullable PRIMARY KEY of a rowid table may repeat NULL.
		{"CREATE TABLE t(k TEXT PRIMARY KEY, v)", engine.KeyRow, "[k v]"},
		{"CREATE TABLE t(k INT PRIMARY KEY, v)", engine.KeyRow, "[k v]"},
		{"CREATE TABLE t(k TEXT PRIMARY KEY, u TEXT NOT NULL UNIQUE, v)", engine.KeyUnique, "[u]"},
		{"CREATE TABLE t(a NOT NULL, b NOT NULL, c NOT NULL, UNIQUE (a, b), UNIQUE (c))", engine.KeyUnique, "[c]"},
		{"CREATE TABLE t(a UNIQUE, v)", engine.KeyRow, "[a v]"},
		{"CREATE TABLE t(a NOT NULL, v); CREATE UNIQUE INDEX u ON t(a) WHERE v > 0", engine.KeyRow, "[a v]"},
		{"CREATE TABLE t(a NOT NULL, v); CREATE UNIQUE INDEX u ON t(lower(a))", engine.KeyRow, "[a v]"},
		{"CREATE TABLE t(a, b AS (a + 1) NOT NULL UNIQUE)", engine.KeyRow, "[a]"},
		{"CREATE TABLE t(v)", engine.KeyRow, "[v]"},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			c := openConn(t, newFile(t, tc.schema))
			s, err := loadSchema(context.Background(), c.cc)
			if err != nil {
				t.Fatal(err)
			}
			m := s.table("t")
			var names []string
			for _, k := range m.info.Key {
				names = append(names, m.info.Columns[k].Name)
			}
			if m.info.KeyKind != tc.kind || fmt.Sprint(names) != tc.key {
				t.Errorf("key %s %v, want %s %s", m.info.KeyKind, names, tc.kind, tc.key)
			}
		})
	}
}

func TestSchemaMetadata(t *testing.T) {
	c := openConn(t, newFile(t, `CREATE TABLE "Odd ""Name"""(rowid TEXT, _rowid_, "OID" INTEGER NOT NULL, x REAL DEFAULT 1.5);
		CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT);
		CREATE TABLE w(k PRIMARY KEY) WITHOUT ROWID;
		CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE ch(pid REFERENCES P); CREATE TABLE gc(cid REFERENCES ch);
		CREATE VIRTUAL TABLE f USING fts4(body);`))
	s, err := loadSchema(context.Background(), c.cc)
	if err != nil {
		t.Fatal(err)
	}
	odd := s.table(`odd "name"`)
	if odd == nil || odd.info.Name != `Odd "Name"` || odd.rowidName != "" || len(odd.info.Columns) != 4 || odd.info.Columns[3].Type != "REAL" || !odd.info.Columns[2].NotNull {
		t.Errorf("odd table %+v", odd)
	}
	if a := s.table("a"); !a.autoinc || a.rowidName != "rowid" {
		t.Errorf("a: %+v", a)
	}
	if w := s.table("w"); !w.withoutRowid || w.autoinc {
		t.Errorf("w: %+v", w)
	}
	if f := s.table("f"); f == nil || !f.virtual {
		t.Errorf("f: %+v", f)
	}
	if shadow := s.table("f_content"); shadow == nil || shadow.virtual {
		t.Errorf("shadow table f_content: %+v", shadow)
	}
	got := s.descendants([]string{"P"})
	if len(got) != 3 || !got["p"] || !got["ch"] || !got["gc"] {
		t.Errorf("descendants of P = %v", got)
	}
	if s.table("sqlite_schema") != nil || s.table("sqlite_master") != nil {
		t.Error("the catalog itself is listed as a table")
	}
}
