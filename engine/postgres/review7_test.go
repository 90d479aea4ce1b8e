package postgres_test

// Review of partial undo and blocking by later ALTERs (commits a3e2bb4,
// fe7ffe5, ef91847).

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// DROP TABLE a, b where someone re-created b: the undo re-creates a and
// leaves b as a conflict, so the entry is "partly undone". Once b is
// dropped again (the conflict resolved), undoing the entry again meets a,
// which the first undo re-created, as "exists again": the retry never
// completes and a is reported as a conflict forever (objects are not
// "already back" the way rows are).
func TestReview7PartialRetryOfDropOfTwoTables(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE a (id int PRIMARY KEY, v text)`, `CREATE TABLE b (id int PRIMARY KEY, v text)`,
		`INSERT INTO a VALUES (1, 'a')`, `INSERT INTO b VALUES (1, 'b')`)
	seqs := enginetest.CommitAll(t, s, `DROP TABLE a, b`)
	enginetest.ExecAll(t, db, `CREATE TABLE b (x int)`) // someone else
	rep := undoAll(t, s, engine.UndoOptions{})
	if len(rep.Partial) != 1 || len(rep.Conflicts) != 1 {
		t.Fatalf("first undo: entries %v partial %v conflicts %v", rep.Entries, rep.Partial, rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `DROP TABLE b`) // resolved
	rep = undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo of the partly undone DROP once b is gone again: conflicts %v (state %q)", rep.Conflicts, enginetest.State(t, s, seqs[0]))
	}
	if got := enginetest.Joined(t, db, `SELECT v FROM a UNION ALL SELECT v FROM b`); got != "a,b" {
		t.Fatalf("rows %q", got)
	}
}

// A later undo entry that dropped a column (the undo of ADD COLUMN),
// left in place: undoing an earlier undo entry whose images hold that
// column fails on the missing column, instead of a conflict naming the
// later entry (blockLater skips undo entries, and reshapes does not count
// a dropped added column).
func TestReview7LaterUndoDroppedColumnFailsUndo(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c text`, `UPDATE t SET c = 'v', v = 'x'`)
	u1 := undoAll(t, s, engine.UndoOptions{Entries: seqs[1:]})
	u2 := undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !u1.Complete() || !u2.Complete() {
		t.Fatalf("undos: %+v %+v", u1, u2)
	}
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{u1.Seq}})
	if err != nil {
		t.Fatalf("undo of entry %d, whose rows hold column c that undo entry %d dropped: %v (want a conflict naming entry %d)", u1.Seq, u2.Seq, err, u2.Seq)
	}
	if len(rep.Conflicts) != 1 {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
}

// A later entry dropped the table and created another of that name with
// other columns: the earlier UPDATE's rows are not blocked, and the undo
// fails on the missing column instead of leaving a conflict.
func TestReview7LaterDropAndRecreateFailsUndo(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET a = 'x'`, `DROP TABLE t`, `CREATE TABLE t (id int PRIMARY KEY, z text)`, `INSERT INTO t VALUES (1, 'new')`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs[:1]})
	if err != nil {
		t.Fatalf("undo of the UPDATE of a table dropped and re-created since: %v (want a conflict naming entry %d)", err, seqs[1])
	}
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer has column(s) a") {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
}

// A later ALTER COLUMN TYPE that only widens a column (integer to bigint),
// left in place: the earlier UPDATE's rows fit the table as it is (before
// a3e2bb4 they were put back), but now every such row is blocked as a
// conflict, because the ALTER imaged rows (o.Table != 0 counts as
// "rewrote columns").
func TestReview7WideningTypeChangeBlocksRows(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text, n int)`, `INSERT INTO t VALUES (1, 'a', 1)`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET a = 'x'`, `ALTER TABLE t ALTER COLUMN n TYPE bigint`)
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo of the UPDATE with a later int->bigint left in place: conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT a FROM t`); got != "a" {
		t.Fatalf("row %q", got)
	}
}
