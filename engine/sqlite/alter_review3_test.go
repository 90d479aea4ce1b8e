package sqlite_test

// Third review of the SQLite ALTER TABLE undo (2509a33).

import (
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
	"lifebelt/journal"
)

// A forced revert of ADD COLUMN images every row of the table (keptSink)
// before running DROP COLUMN; the DROP fails (a view of someone's names
// the column), the ALTER is left in place as a conflict, but the images
// stay in the undo entry with no object claiming them. Undoing that undo
// takes them for deleted rows and re-inserts them: on a table without a
// key every row is duplicated.
func TestAlterReview3FailedForcedRevertOrphanImages(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (v TEXT)`, `INSERT INTO t VALUES ('a'), ('b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 7 WHERE v = 'b'`, `CREATE VIEW tv AS SELECT c FROM t`)
	rep := undoWith(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 1 {
		t.Fatalf("forced undo: conflicts %v", rep.Conflicts)
	}
	t.Logf("forced undo: conflicts %v entries %v forced %d; states %s", rep.Conflicts, rep.Entries, rep.Forced, entryStates(t, s))
	e, err := s.Journal().Entry(rep.Seq)
	if err != nil {
		t.Fatal(err)
	}
	// The rows imaged before the failed step are kept for people, under
	// an object that claims them ("keep"), never written back.
	objs, err := s.Journal().Objects(rep.Seq)
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, o := range objs {
		kept = kept || (o.Action == journal.ActionKeep && o.Table != 0)
	}
	if e.ImageCount != 0 && !kept {
		t.Errorf("the undo changed nothing, yet its entry holds %d images that no object keeps", e.ImageCount)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the undo: %v", err)
	}
	t.Logf("undo of the undo: conflicts %v entries %v rows %d", rep2.Conflicts, rep2.Entries, rep2.Rows)
	if rep2.Rows != 0 {
		t.Errorf("undo of the undo wrote %d rows", rep2.Rows)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(v || ':' || coalesce(c, '-')) FROM (SELECT * FROM t ORDER BY v, c)`); got != "a:-,b:7" {
		t.Errorf("rows of t after undoing an undo that changed nothing: %s, want a:-,b:7", got)
	}
}

// sameSQL takes a bare number and a double-quoted identifier of the same
// spelling for the same token: DEFAULT 1 (the integer 1) and DEFAULT "1"
// (the text '1') are different definitions. Someone rebuilt the table
// with DEFAULT "1" after the session's ADD COLUMN; undo finds "exactly the
// definition" the ALTER left and reverts it without a conflict (and
// without even the note that the text differs).
func TestAlterReview3SameSQLNumberVsQuoted(t *testing.T) {
	for _, c := range [][2]string{
		{`1`, `"1"`},
		{`1`, `[1]`},
		{`TRUE`, `"TRUE"`},
	} {
		t.Run(c[0]+" vs "+c[1], func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v DEFAULT `+c[0]+`)`, `INSERT INTO t (id) VALUES (1)`)
			enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`)
			after := enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`)
			other := strings.Replace(strings.Replace(after, `DEFAULT `+c[0], `DEFAULT `+c[1], 1), `CREATE TABLE t `, `CREATE TABLE t_new `, 1)
			if other == after {
				t.Fatalf("could not respell %s", after)
			}
			enginetest.ExecAll(t, db, other, `INSERT INTO t_new SELECT * FROM t`, `DROP TABLE t`, `ALTER TABLE t_new RENAME TO t`)
			now := enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`)
			enginetest.ExecAll(t, db, `INSERT INTO t (id) VALUES (2)`)
			vals := enginetest.Joined(t, db, `SELECT typeof(v) || ':' || quote(v) FROM t ORDER BY id`)
			rep := undoWith(t, s, engine.UndoOptions{})
			t.Logf("after the ALTER: %s\nrebuilt by someone: %s (defaults now give %s)\nundo: conflicts %v notes %q", after, now, vals, rep.Conflicts, rep.Notes)
			if len(rep.Conflicts) == 0 {
				t.Errorf("someone's different definition (DEFAULT %s for DEFAULT %s) was taken for the one the ALTER left; schema now: %s", c[1], c[0], rvSchema(t, db))
			}
		})
	}
}

// Fine: sameSQL still tells a string literal from a quoted identifier, a
// keyword from a quoted name, and names by case; [x] and "x" are equal.
// Each respelled definition is a conflict (or, for [c]/"c", none).
func TestAlterReview3SameSQLOK(t *testing.T) {
	for _, c := range []struct {
		from, to string
		conflict bool
	}{
		{`DEFAULT 'a'`, `DEFAULT "a"`, true},
		{`DEFAULT NULL`, `DEFAULT "NULL"`, true},
		{`DEFAULT CURRENT_TIME`, `DEFAULT "CURRENT_TIME"`, true},
		{`COLLATE NOCASE`, `COLLATE nocase`, true},
		{`v TEXT`, `V TEXT`, true},
		{`v TEXT`, `[v] TEXT`, false},
		{`v TEXT`, "`v` TEXT", false},
	} {
		t.Run(c.from+" vs "+c.to, func(t *testing.T) {
			def := `v TEXT`
			if c.from != def {
				def = `v TEXT ` + c.from
			}
			s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, `+def+`)`, `INSERT INTO t (id) VALUES (1)`)
			enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`)
			after := enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`)
			other := strings.Replace(strings.Replace(after, c.from, c.to, 1), `CREATE TABLE t `, `CREATE TABLE t_new `, 1)
			enginetest.ExecAll(t, db, other, `INSERT INTO t_new SELECT * FROM t`, `DROP TABLE t`, `ALTER TABLE t_new RENAME TO t`)
			rep := undoWith(t, s, engine.UndoOptions{})
			if (len(rep.Conflicts) > 0) != c.conflict {
				t.Errorf("%s: conflicts %v", enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`), rep.Conflicts)
			}
		})
	}
}

// Fine: a forced drop of a created table gives the kept images a table
// of their own (AddTableApart) with the same description as the undo's
// own images of that table; the journal still verifies.
func TestAlterReview3ApartTablesVerify(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE keep (x)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO n VALUES (1, 'a')`, `UPDATE n SET v = 'b' WHERE id = 1`)
	enginetest.ExecAll(t, db, `INSERT INTO n VALUES (2, 'x')`)
	rep := undoWith(t, s, engine.UndoOptions{Force: true})
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	undoWith(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}, Force: true})
	ts, err := s.Journal().Tables(rep.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 2 {
		t.Fatalf("tables of the undo entry: %v", ts)
	}
	vr, err := journal.Verify(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(vr.Problems) != 0 {
		t.Errorf("verify: %v", vr.Problems)
	}
}

// dropCreated's DROP runs in a savepoint so that "something of others'
// that depends on it (a view ...) makes the DROP fail: a conflict"
// (README). SQLite's DROP TABLE does not fail for a view: undoing CREATE
// TABLE of an empty table drops it from under someone's view (which then
// fails on every use) and drops someone's trigger on it, unjournaled,
// with no conflict.
func TestAlterReview3DropCreatedBreaksSomeonesView(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE keep (x)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT)`)
	enginetest.ExecAll(t, db, `CREATE VIEW nv AS SELECT v FROM n`)
	rep := undoWith(t, s, engine.UndoOptions{})
	t.Logf("undo: conflicts %v entries %v; schema: %s", rep.Conflicts, rep.Entries, rvSchema(t, db))
	if _, err := db.Exec(`SELECT * FROM nv`); err != nil || len(rep.Conflicts) == 0 {
		t.Errorf("undo dropped n from under someone's view nv without a conflict: SELECT * FROM nv: %v", err)
	}
}
