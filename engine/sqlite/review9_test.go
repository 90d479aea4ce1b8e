package sqlite_test

// Review of 5b269b0 (the forced undo's type check skips SQLite).

import (
	"context"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// missingColumns skips SQLite's types ("declared types do not refuse
// values"), but a STRICT table's do: a table rebuilt by someone else
// since with v INTEGER (SQLite's way of changing a column's type) makes
// the forced undo of an earlier UPDATE write its text before-image into
// the INTEGER column, and the whole undo fails instead of reporting the
// rows as a conflict, as it does on PostgreSQL.
func TestReview9ForcedUndoIntoStrictRetypedColumnFails(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT) STRICT`, `INSERT INTO t VALUES (1, 'abc'), (2, 'x')`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = '7' WHERE id = 1`, `UPDATE t SET v = 'y' WHERE id = 2`)
	enginetest.ExecAll(t, db, `CREATE TABLE t2 (id INTEGER PRIMARY KEY, v INTEGER) STRICT`,
		`INSERT INTO t2 SELECT id, length(v) FROM t`, `DROP TABLE t`, `ALTER TABLE t2 RENAME TO t`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo after v became INTEGER in a STRICT table: %v (want a conflict, as on PostgreSQL)", err)
	}
	if len(rep.Conflicts) == 0 {
		t.Fatalf("no conflict; rows %s", enginetest.Joined(t, db, `SELECT group_concat(id || ':' || typeof(v) || ':' || v) FROM t`))
	}
}
