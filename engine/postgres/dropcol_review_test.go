package postgres_test

// Review of commit 124ddd2 (undo of ALTER TABLE ... DROP COLUMN). Each test
// here fails on that commit and describes what a DBA would expect.
// Run: go test ./engine/postgres/ -run TestDropColReview -count=1

import (
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

const dropColReviewRows = `SELECT string_agg(row_to_json(t)::text, ',' ORDER BY id) FROM t`

// Once the undo of a DROP COLUMN has put a column back last, the table's
// column order is no longer the one any EARLIER ALTER of the same session
// recorded as its after-definition, so every earlier ALTER of the table
// (a rename, a SET DEFAULT, ...) is refused as "the table's definition
// changed since the ALTER (a later change by someone else ...)". Undoing
// the whole session leaves a mix: the dropped column back, the rename and
// the default still in place, and the report blames someone else. A DBA
// expects "undo the session" to undo all three ALTERs (the dropped column
// coming back last, as documented).
func TestDropColReviewEarlierAlterAfterDropUndo(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text, c int)`, `INSERT INTO t VALUES (1, 'a1', 1), (2, 'a2', 2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN c TO c2`, `ALTER TABLE t ALTER COLUMN c2 SET DEFAULT 5`, `ALTER TABLE t DROP COLUMN a`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got, want := enginetest.Joined(t, db, columnsOf, "t"), "id:integer,c:integer,a:text"; got != want {
		t.Errorf("columns after undoing the session: %s, want %s", got, want)
	}
	if got := enginetest.Joined(t, db, `SELECT coalesce(pg_get_expr(adbin, adrelid), 'none') FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum WHERE attrelid = 't'::regclass AND attnum = 3`); got != "none" {
		t.Errorf("the default set by the session is still there: %s", got)
	}
}

// Same root cause: a session that drops two columns in two statements,
// the second one not the table's last column. Undoing the session puts
// the second column back last, and then the first DROP COLUMN can never be
// undone (its after-definition has the other order): the session's undo
// is left half done, one column back and one gone for good.
func TestDropColReviewTwoDropStatements(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text, b text, c int)`, `INSERT INTO t VALUES (1, 'a1', 'b1', 1), (2, 'a2', 'b2', 2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t DROP COLUMN b`, `ALTER TABLE t DROP COLUMN a`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got, want := enginetest.Joined(t, db, `SELECT string_agg(concat_ws('/', id, to_jsonb(t)->>'a', to_jsonb(t)->>'b', c), ',' ORDER BY id) FROM t`), "1/a1/b1/1,2/a2/b2/2"; got != want {
		t.Errorf("rows after undoing the session: %s, want %s", got, want)
	}
}

// And again: ADD COLUMN x, then DROP COLUMN of an earlier column. Undoing
// the drop puts that column after x, and the ADD COLUMN can then no longer
// be undone: x stays.
func TestDropColReviewAddThenDrop(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text)`, `INSERT INTO t VALUES (1, 'a1')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN x int`, `ALTER TABLE t DROP COLUMN a`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got, want := enginetest.Joined(t, db, columnsOf, "t"), "id:integer,a:text"; got != want {
		t.Errorf("columns after undoing the session: %s, want %s", got, want)
	}
}

// Another session changed the key of the rows after the drop (UPDATE t
// SET id = id + 10: every row is still there). The undo matches images
// by key, finds none, and reports Complete: the column comes back all
// NULL and the note says "2 row(s) deleted since", which is false. The
// values of rows that exist are silently left only in the journal. A DBA
// expects either the values back or a conflict for those rows (as a row
// undo of an UPDATE whose row's key changed is one), not a complete undo
// that lost every value.
func TestDropColReviewKeyChangedSince(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, b text)`, `INSERT INTO t VALUES (1, 'x'), (2, 'y')`)
	seq, _ := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN b`)
	enginetest.ExecAll(t, db, `UPDATE t SET id = id + 10`)
	// Fixed: those rows are a conflict, and nothing changes; with force
	// the column comes back without their values, and says so.
	rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "2 row(s) imaged before the drop are no longer found by their key") {
		t.Fatalf("undo with every key changed since: conflicts %+v", rep.Conflicts)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}, Force: true})
	rows := enginetest.Joined(t, db, `SELECT string_agg(concat_ws('/', id, b), ',' ORDER BY id) FROM t`)
	if !rep.Complete() || rep.Forced != 2 || !strings.Contains(strings.Join(rep.Notes, " "), "forced: 2 row(s) no longer found by their key") {
		t.Errorf("forced undo: rows %s, forced %d, conflicts %v, notes %q", rows, rep.Forced, rep.Conflicts, rep.Notes)
	}
}

// A column of a NOT NULL domain: the DROP COLUMN is recorded as undoable
// (no warning), but its undo can never succeed while the table has a row:
// ADD COLUMN of such a domain fails ("domain does not allow null values")
// before the fill can run. A DBA expects the undo to work (e.g. add the
// column with its base type or a placeholder default, fill, then switch
// to the domain) or, at the least, the drop to say it will not be undone
// automatically, as the NOT NULL case on SQLite does.
func TestDropColReviewNotNullDomain(t *testing.T) {
	s, db := sessionOn(t, `CREATE DOMAIN rv_nn AS text NOT NULL`,
		`CREATE TABLE t (id int PRIMARY KEY, b rv_nn)`, `INSERT INTO t VALUES (1, 'x'), (2, 'y')`)
	t.Cleanup(func() { db.Exec(`DROP TABLE IF EXISTS t; DROP DOMAIN IF EXISTS rv_nn`) })
	seq, warn := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN b`)
	if strings.Contains(warn, "does not undo this change automatically") {
		// Told at once (the fix), with the reason.
		if !strings.Contains(warn, "does not take NULL") {
			t.Errorf("warning without the reason: %s", warn)
		}
		return
	}
	rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if !rep.Complete() {
		t.Errorf("the drop was accepted as undoable, but its undo: conflicts %+v", rep.Conflicts)
	}
	if got, want := enginetest.Joined(t, db, dropColReviewRows), `{"id":1,"b":"x"},{"id":2,"b":"y"}`; got != want {
		t.Errorf("rows after undo: %s, want %s", got, want)
	}
}

// The most common dropped column there is: created_at timestamptz NOT NULL
// DEFAULT now(). Once anybody inserts a row after the drop, the undo is a
// conflict for ever ("column contains null values"): the non-constant
// default is set only after the fill, so the row added since is left NULL
// and SET NOT NULL fails. README says such a conflict arises for "a NOT
// NULL column without a default"; this one has a default. A DBA expects
// rows added since to get the column's default, as they would have had the
// column been there (and then the undo to succeed).
func TestDropColReviewNonConstantDefaultRowsSince(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO t VALUES (1, '2020-01-01 00:00+00'), (2, '2021-01-01 00:00+00')`)
	seq, _ := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN at`)
	enginetest.ExecAll(t, db, `INSERT INTO t VALUES (3)`)
	rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %+v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM t WHERE at IS NOT NULL`); got != "3" {
		t.Errorf("rows with a value in at after undo: %s, want 3", got)
	}
}

// ALTER TABLE ... DROP COLUMN IF EXISTS of a column that is not there
// changes nothing, yet it is journaled as an ALTER "Lifebelt does not undo
// automatically" whose "rows it rewrote are in the journal": every undo of
// the session then lists it as skipped and is never Complete. A DBA
// expects a no-op to need no undo.
func TestDropColReviewNoopIfExists(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, b text)`, `INSERT INTO t VALUES (1, 'x')`)
	seq, warn := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN IF EXISTS nosuch`)
	if strings.Contains(warn, "does not undo") {
		t.Errorf("a DROP COLUMN IF EXISTS that dropped nothing warns: %s", warn)
	}
	rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if !rep.Complete() {
		t.Errorf("undo of a no-op: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
}

// Per-column options (ALTER COLUMN SET (n_distinct = ...)) are not part of
// the recorded definition, so the undo of the drop loses them and the
// exact comparison cannot notice: the undo reports the column back
// "exactly", with its planner statistics settings gone. A DBA expects the
// column's options back (or the drop to say it cannot bring them back).
func TestDropColReviewColumnOptions(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, b text)`, `ALTER TABLE t ALTER COLUMN b SET (n_distinct = -0.5)`, `INSERT INTO t VALUES (1, 'x')`)
	q := `SELECT coalesce(array_to_string(attoptions, ','), '') FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'b'`
	before := enginetest.Joined(t, db, q)
	seq, warn := enginetest.CommitWarn(t, s, `ALTER TABLE t DROP COLUMN b`)
	if strings.Contains(warn, "does not undo") {
		return
	}
	rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %+v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, q); !strings.Contains(got, "n_distinct=-0.5") {
		t.Errorf("column options after undo: %q, before: %q", got, before)
	}
}
