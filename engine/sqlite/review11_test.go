package sqlite_test

// Review 11 of the DROP COLUMN undo work (commits 124ddd2..2cb169f).
// Run: go test ./engine/sqlite/ -run TestReview11 -count=1

import (
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// Order-blind comparison is switched on by the table's name at the time
// of the fill: a table renamed between an earlier ALTER and the DROP
// COLUMN is compared column-order sensitively again once the rename is
// undone, and the earlier ALTER is reported as changed by someone else.
//
//	ALTER TABLE t ADD COLUMN x INT; ALTER TABLE t RENAME TO u;
//	ALTER TABLE u DROP COLUMN b;   then: lifebelt undo (whole session)
//
// What happens: the drop and the rename are undone, the ADD COLUMN is a
// conflict ("the table's definition changed since the ALTER"), x stays.
// A DBA expects the whole session undone, as it is without the rename.
func TestReview11RenamedTableEarlierAlter(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INT)`, `INSERT INTO t VALUES (1, 'a1', 'b1', 1), (2, 'a2', 'b2', 2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN x INT`, `ALTER TABLE t RENAME TO u`, `ALTER TABLE u DROP COLUMN b`)
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of the session: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got, want := enginetest.Joined(t, db, `SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('t') ORDER BY cid)`), "id,a,b,c"; got != want { // SQLite's undo rebuilds the table: b is back in place
		t.Errorf("columns after undoing the session: %s, want %s", got, want)
	}
}
