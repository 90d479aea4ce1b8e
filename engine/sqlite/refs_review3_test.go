package sqlite_test

import (
	"errors"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// R3-2 (SQLite): undo of two entries, DROP TABLE c (empty, refers to p)
// then UPDATE p. The undo writes p first (its keys read without c's),
// re-creates c without rows (c's keys never read), and the re-read at the
// end of checkReferences takes c's key for one "created while undo ran".
func TestReview3RecreatedEmptyChildFalseRefusal(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))",
		"INSERT INTO p VALUES (1, 'a')")
	enginetest.CommitAll(t, s, "DROP TABLE c", "UPDATE p SET v = 'b'")
	rep, err := undoErr(s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo refused: %v", err)
	}
	if !rep.Complete() {
		t.Fatalf("undo incomplete: %+v", rep)
	}
	if got := enginetest.Joined(t, db, "SELECT v FROM p"); got != "a" {
		t.Errorf("p.v = %q", got)
	}
}

// Checked correct: keyless undo (Update path) with duplicates, NULLs,
// mixed storage classes, a generated column, a swap, and the undo of the
// undo.
func TestReview3KeylessRoundTrip(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE kl (a, f REAL, b TEXT, g TEXT GENERATED ALWAYS AS (b || '!') VIRTUAL, h TEXT GENERATED ALWAYS AS (b || '?') STORED)",
		"INSERT INTO kl (a, f, b) VALUES (1, 0.5, 'x'), (1, 0.5, 'x'), ('1', 0.5, 'x'), (2, NULL, 'y'), (NULL, 1.5, NULL), (x'01', 2, 'y')")
	dump := "SELECT group_concat(r, ',') FROM (SELECT quote(a) || '|' || quote(f) || '|' || quote(b) || '|' || quote(g) || '|' || quote(h) AS r FROM kl ORDER BY 1)"
	orig := enginetest.Joined(t, db, dump)
	enginetest.CommitAll(t, s, "UPDATE kl SET b = CASE b WHEN 'x' THEN 'y' WHEN 'y' THEN 'x' ELSE 'n' END, f = -f")
	changed := enginetest.Joined(t, db, dump)
	rep, err := undoErr(s, engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo: %v %+v", err, rep)
	}
	if got := enginetest.Joined(t, db, dump); got != orig {
		t.Errorf("after undo\n%s\nwant\n%s", got, orig)
	}
	rep2, err := undoErr(s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil || !rep2.Complete() {
		t.Fatalf("undo of undo: %v %+v", err, rep2)
	}
	if got := enginetest.Joined(t, db, dump); got != changed {
		t.Errorf("after undo of undo\n%s\nwant\n%s", got, changed)
	}
}

// R3-6: a child column renamed since in case only (pid -> PID). SQLite
// names are case-insensitive, so undo re-inserts the row by its journaled
// column name without trouble, but fkUses looks the key's column up by
// exact spelling, takes it for a column "added since" and leaves the key
// unchecked: the row goes back referring to a deleted parent.
func TestReview3ChildColumnRenamedCase(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))",
		"INSERT INTO p VALUES (1)", "INSERT INTO c VALUES (10, 1)")
	enginetest.CommitAll(t, s, "DELETE FROM c")
	enginetest.ExecAll(t, db, "ALTER TABLE c RENAME COLUMN pid TO PID", "DELETE FROM p")
	rep, err := undoErr(s, engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Errorf("undo = %+v, %v; want a *engine.ReferenceError; foreign_key_check now: %q", rep, err, fkCheck(t, s))
	}
}
