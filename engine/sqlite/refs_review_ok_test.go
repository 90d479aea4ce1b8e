package sqlite_test

import (
	"errors"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// Cases the change handles correctly (all pass).
func TestReviewOK(t *testing.T) {
	type tc struct {
		name    string
		setup   []string
		session []string
		other   []string
		refused bool
	}
	for _, c := range []tc{
		{name: "nocase unique parent, child differs in case",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE)", "CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code))"},
			session: []string{"INSERT INTO p VALUES (1, 'ABC')"}, other: []string{"INSERT INTO c VALUES (1, 'abc')"}, refused: true},
		{name: "nocase key changed only in case",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE)", "CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code))", "INSERT INTO p VALUES (1, 'abc')", "INSERT INTO c VALUES (1, 'abc')"},
			session: []string{"UPDATE p SET code = 'ABC' WHERE id = 1"}},
		{name: "text parent key, integer child value",
			setup:   []string{"CREATE TABLE p (k TEXT PRIMARY KEY NOT NULL)", "CREATE TABLE c (id INTEGER PRIMARY KEY, k INTEGER REFERENCES p(k))"},
			session: []string{"INSERT INTO p VALUES ('7')"}, other: []string{"INSERT INTO c VALUES (1, 7)"}, refused: true},
		{name: "rowid parent, text child value",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY)", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p)"},
			session: []string{"INSERT INTO p VALUES (7)"}, other: []string{"INSERT INTO c VALUES (1, '7')"}, refused: true},
		{name: "rowid parent, child text not integer: not a reference",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY)", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p)", "INSERT INTO p VALUES (7)"},
			session: []string{"DELETE FROM p WHERE id = 7", "INSERT INTO p VALUES (7)"}},
		{name: "composite without rowid, no column list, pk order differs",
			setup:   []string{"CREATE TABLE p (a INT, b TEXT, PRIMARY KEY (b, a)) WITHOUT ROWID", "CREATE TABLE c (id INTEGER PRIMARY KEY, x TEXT, y INT, FOREIGN KEY (x, y) REFERENCES p)"},
			session: []string{"INSERT INTO p VALUES (1, 'one')"}, other: []string{"INSERT INTO c VALUES (1, 'one', 1)"}, refused: true},
		{name: "composite with a NULL refers to nothing",
			setup:   []string{"CREATE TABLE p (a INT, b INT, PRIMARY KEY (a, b)) WITHOUT ROWID", "CREATE TABLE c (id INTEGER PRIMARY KEY, a INT, b INT, FOREIGN KEY (a, b) REFERENCES p(a, b))", "INSERT INTO c VALUES (1, 5, NULL)"},
			session: []string{"DELETE FROM c WHERE id = 1"}},
		{name: "insert or replace of a referenced row",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p ON DELETE CASCADE)", "INSERT INTO p VALUES (1, 'a')", "INSERT INTO c VALUES (1, 1)"},
			session: []string{"INSERT OR REPLACE INTO p VALUES (1, 'b')", "INSERT INTO p VALUES (1, 'c') ON CONFLICT (id) DO UPDATE SET v = excluded.v"}},
		{name: "pre-existing orphan elsewhere",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY)", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)", "PRAGMA foreign_keys = OFF", "INSERT INTO c VALUES (1, 99)", "PRAGMA foreign_keys = ON"},
			session: []string{"INSERT INTO p VALUES (1)", "INSERT INTO c VALUES (2, 1)"}},
		{name: "FK to a unique non-pk column",
			setup:   []string{"CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE)", "CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code))", "INSERT INTO p VALUES (1, 'a')"},
			session: []string{"UPDATE p SET code = 'b' WHERE id = 1"}, other: []string{"INSERT INTO c VALUES (1, 'b')"}, refused: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, c.setup...)
			enginetest.CommitAll(t, s, c.session...)
			enginetest.ExecAll(t, db, c.other...)
			_, err := undoErr(s, engine.UndoOptions{})
			var re *engine.ReferenceError
			if c.refused != errors.As(err, &re) {
				t.Fatalf("undo: %v (want refused: %v)", err, c.refused)
			}
			if v := enginetest.FirstColumn(t, db, "SELECT \"table\" || ' ' || rowid FROM pragma_foreign_key_check WHERE NOT (\"table\" = 'c' AND rowid = 1 AND parent = 'p' AND ?)", c.name == "pre-existing orphan elsewhere"); len(v) > 0 {
				t.Errorf("violations after undo: %q", v)
			}
		})
	}
}

// Begin of the undo busy (another writer): foreign keys back on after.
func TestReviewOKBeginBusy(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, "CREATE TABLE p (id INTEGER PRIMARY KEY)")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
	w := harness.Open(t, "sqlite:"+s.Target().Path)
	if _, err := w.Exec("BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err := undoErr(s, engine.UndoOptions{Entries: seqs})
	t.Logf("undo: %v", err)
	w.Exec("ROLLBACK")
	if got := sessionQuery(t, s, "PRAGMA foreign_keys"); len(got) != 1 || got[0] != "1" {
		t.Errorf("foreign_keys = %v", got)
	}
}
