package sqlite_test

// Review of commit 124ddd2 (undo of ALTER TABLE ... DROP COLUMN). Each test
// here fails on that commit and describes what a DBA would expect.
// Run: go test ./engine/sqlite/ -run TestDropColReview -count=1

import (
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

const dropColReviewCols = `SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('t') ORDER BY cid)`

// A hand-written schema commonly ends a column with a line comment:
//
//	CREATE TABLE t (id INTEGER PRIMARY KEY,
//	  b TEXT -- the b
//	)
//
// columnDefText takes "b TEXT -- the b" (comments included) as the
// column's definition, and "ALTER TABLE t ADD COLUMN b TEXT -- the b"
// makes SQLite splice the comment before the closing parenthesis, so the
// trial fails ("error in table t after add column: incomplete input").
// The drop is then left to people with the reason "SQLite cannot add it
// back", which is not true: SQLite can, the statement Lifebelt built
// cannot. A DBA expects the undo to work (drop a trailing line comment,
// or end it with a newline / turn it into a block comment).
func TestDropColReviewTrailingLineComment(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, "CREATE TABLE t (id INTEGER PRIMARY KEY,\n  b TEXT -- the b\n)", `INSERT INTO t VALUES (1, 'x'), (2, NULL)`)
	seq, warn := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN b`)
	if strings.Contains(warn, "does not undo") {
		t.Errorf("the drop is left to people: %s", warn)
	}
	rep := undoWith(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %+v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || '/' || coalesce(b, 'NULL'), ',') FROM (SELECT * FROM t ORDER BY id)`); got != "1/x,2/NULL" {
		t.Errorf("rows after undo: %s", got)
	}
}

// Once the undo of a DROP COLUMN has put a column back last, no EARLIER
// ALTER of the same table in the session can be undone: its recorded
// after-definition has the other column order, so it is refused as "the
// table's definition changed since the ALTER (a later change by someone
// else ...)". Undoing the session leaves the rename in place. A DBA
// expects the whole session undone (the dropped column last, as
// documented).
func TestDropColReviewEarlierRenameAfterDropUndo(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, c TEXT)`, `INSERT INTO t VALUES (1, 'a1', 'c1')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN c TO c2`, `ALTER TABLE t DROP COLUMN a`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	// SQLite's undo now rebuilds the table: the column is back in place.
	if got, want := enginetest.Joined(t, db, dropColReviewCols), "id,a,c"; got != want {
		t.Errorf("columns after undoing the session: %s, want %s", got, want)
	}
}

// Same root cause with two DROP COLUMN statements, the second one not of
// the last column: the first drop can never be undone, the session's undo
// is left half done (one column back, the other gone).
func TestDropColReviewTwoDropStatements(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)`, `INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t DROP COLUMN b`, `ALTER TABLE t DROP COLUMN a`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	// SQLite's undo now rebuilds the table: the columns are back in place.
	if got, want := enginetest.Joined(t, db, dropColReviewCols), "id,a,b,c"; got != want {
		t.Errorf("columns after undoing the session: %s, want %s", got, want)
	}
}

// Another connection changed the rows' keys after the drop (every row is
// still there). The undo finds no row by key, reports Complete, brings
// the column back all NULL and says "2 row(s) deleted since", which is
// false. A DBA expects the values back or a conflict, not a complete undo
// that silently lost every value.
func TestDropColReviewKeyChangedSince(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT)`, `INSERT INTO t VALUES (1, 'x'), (2, 'y')`)
	seq, _ := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN b`)
	enginetest.ExecAll(t, db, `UPDATE t SET id = id + 10`)
	// Fixed: those rows are a conflict, and nothing changes; with force
	// the column comes back without their values, and says so.
	rep := undoWith(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "2 row(s) imaged before the drop are no longer found by their key") {
		t.Fatalf("undo with every key changed since: conflicts %+v", rep.Conflicts)
	}
	rep = undoWith(t, s, engine.UndoOptions{Entries: []int64{seq}, Force: true})
	rows := enginetest.Joined(t, db, `SELECT group_concat(id || '/' || coalesce(b, 'NULL'), ',') FROM (SELECT * FROM t ORDER BY id)`)
	if !rep.Complete() || rep.Forced != 2 || !strings.Contains(strings.Join(rep.Notes, " "), "forced: 2 row(s) no longer found by their key") {
		t.Errorf("forced undo: rows %s, forced %d, conflicts %v, notes %q", rows, rep.Forced, rep.Conflicts, rep.Notes)
	}
}
