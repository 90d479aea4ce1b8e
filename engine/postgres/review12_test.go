package postgres_test

// Review 12: undo of ALTER COLUMN ... TYPE from the images (commit
// a121475, alter_retype.go), which lost values changed since and cut
// values added since. That undo was taken out again; these two tests pin
// that such a type change now leaves every value alone. (The review's
// other three tests, on the same feature, went with it.)

import (
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A value changed since in the retyped column is silently overwritten by
// the image: the fill sets every imaged row's value back, whatever the row
// holds now. No conflict, no note; the later UPDATE is lost and not even
// in the journal (the undo journals no image of it).
//
//	ALTER TABLE t ALTER COLUMN v TYPE int;   -- numeric(6,2), lossy
//	UPDATE t SET v = 40 WHERE id = 1;         -- someone else, later
//	lifebelt undo
//
// What happens: v = 1.25 for row 1, the 40 is gone. Expected: a conflict
// for the row changed since (as for any other change undo would overwrite;
// --force overwrites and says so).
func TestReview12ChangedSinceOverwritten(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v numeric(6,2))`, `INSERT INTO t VALUES (1, 1.25), (2, 2.5)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ALTER COLUMN v TYPE int`)
	enginetest.ExecAll(t, db, `UPDATE t SET v = 40 WHERE id = 1`)
	// Fixed by taking the undo from images of such type changes out
	// again (it had no check for values changed since): the ALTER is left
	// to people, says so, and the later value stays.
	rep := undoAll(t, s, engine.UndoOptions{})
	if got := enginetest.Joined(t, db, `SELECT v::text FROM t WHERE id = 1`); got != "40" || len(rep.Skipped) != 1 {
		t.Errorf("undo overwrote a value changed since: v = %s (set to 40 after the ALTER), skipped %q", got, rep.Skipped)
	}
}

// A row added since whose value the old type cannot hold is silently cut:
// CAST(v AS varchar(5)) truncates (an explicit cast), so 'abcdefghij'
// comes back as 'abcde'. The cast-only revert counts such values first
// (a conflict); the revert from images has no check at all.
//
//	ALTER TABLE t ALTER COLUMN v TYPE text USING v || '';  -- was varchar(5)
//	INSERT INTO t VALUES (2, 'abcdefghij');  lifebelt undo
//
// What happens: undo completes, row 2 holds 'abcde'. Expected: a conflict
// (the value does not fit the old type), as the cast-only revert reports.
// Same with numeric(p,s) rounding and timestamptz/timestamp.
func TestReview12AddedSinceTruncated(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v varchar(5))`, `INSERT INTO t VALUES (1, 'abc')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ALTER COLUMN v TYPE text USING v || ''`)
	enginetest.ExecAll(t, db, `INSERT INTO t VALUES (2, 'abcdefghij')`)
	rep := undoAll(t, s, engine.UndoOptions{})
	got := enginetest.Joined(t, db, `SELECT v FROM t WHERE id = 2`)
	if rep.Complete() && got != "abcdefghij" {
		t.Errorf("undo completed and cut a value added since: %q (was 'abcdefghij'); expected a conflict", got)
	}
}
