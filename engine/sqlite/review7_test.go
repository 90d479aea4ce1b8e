package sqlite_test

// Review of partial undo, blocking by later ALTERs (commits a3e2bb4,
// fe7ffe5, ef91847).

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
	"lifebelt/journal"
)

// A later entry that set the row back to the earlier entry's before-image
// is not "already back": undoing the earlier entry alone now skips the row
// silently and marks the entry undone, so undoing the later entry next
// leaves the earlier entry's value in place while the journal says both
// are undone. (Before fe7ffe5 the row was a conflict, and the entry stayed
// committed.)
func TestReview7LaterEntryBackAtBeforeImageNotAConflict(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x' WHERE id = 1`, `UPDATE t SET v = 'a' WHERE id = 1`)
	enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[:1]})
	enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[1:]})
	got := enginetest.Joined(t, db, `SELECT v FROM t WHERE id = 1`)
	if enginetest.State(t, s, seqs[0]) == journal.StateUndone && enginetest.State(t, s, seqs[1]) == journal.StateUndone && got != "a" {
		t.Fatalf("both entries are %q in the journal, but row 1 holds %q (the first entry's value), want %q", journal.StateUndone, got, "a")
	}
}

// The same with a DELETE and a later INSERT of the same row: undoing the
// DELETE alone skips the row (it is "back"), undoing the INSERT then
// deletes it, and the row is gone although both entries are undone.
func TestReview7LaterInsertOfDeletedRowNotAConflict(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `DELETE FROM t WHERE id = 1`, `INSERT INTO t VALUES (1, 'a')`)
	enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[:1]})
	enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[1:]})
	got := enginetest.Joined(t, db, `SELECT count(*) FROM t WHERE id = 1`)
	if enginetest.State(t, s, seqs[0]) == journal.StateUndone && enginetest.State(t, s, seqs[1]) == journal.StateUndone && got != "1" {
		t.Fatalf("both entries are undone in the journal, but row 1 is gone (count %s), as before neither", got)
	}
}

// Undoing a partly undone entry again, once its conflict is resolved:
// an UPDATE that changed the key. The rows already set back are looked up
// under the key the entry gave them, not found, and called "deleted
// since"; the entry can never be completed.
func TestReview7PartialRetryKeyChanged(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID`, `INSERT INTO t VALUES ('1', 'a'), ('2', 'b')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET k = k || 'n', v = 'x'`)
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'theirs' WHERE k = '2n'`)
	rep := enginetest.MustUndo(t, s, engine.UndoOptions{})
	if len(rep.Partial) != 1 || len(rep.Conflicts) != 1 {
		t.Fatalf("first undo: partial %v conflicts %v", rep.Partial, rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'x' WHERE k = '2n'`) // resolved
	rep = enginetest.MustUndo(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo once the conflict is resolved: conflicts %v (rows already back taken for deleted ones)", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT k || v FROM t ORDER BY k`); got != "1a,2b" {
		t.Fatalf("rows %q, want 1a,2b", got)
	}
	if st := enginetest.State(t, s, seqs[0]); st != journal.StateUndone {
		t.Fatalf("state %q", st)
	}
}

// The same for a table without a key: a row's key is the whole row, so a
// row already set back is not found under its after-image: a conflict
// ("deleted since") even after the real conflict is resolved, and a forced
// retry inserts the row's before-image a second time.
func TestReview7PartialRetryKeyless(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (a TEXT, b TEXT)`, `INSERT INTO t VALUES ('1', 'a'), ('2', 'b')`)
	enginetest.CommitAll(t, s, `UPDATE t SET b = 'x'`)
	enginetest.ExecAll(t, db, `UPDATE t SET b = 'theirs' WHERE a = '2'`)
	if rep := enginetest.MustUndo(t, s, engine.UndoOptions{}); len(rep.Partial) != 1 {
		t.Fatalf("first undo: partial %v conflicts %v", rep.Partial, rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET b = 'x' WHERE a = '2'`) // resolved
	rep := enginetest.MustUndo(t, s, engine.UndoOptions{DryRun: true})
	if !rep.Complete() {
		t.Errorf("undo once the conflict is resolved: conflicts %v", rep.Conflicts)
	}
	enginetest.MustUndo(t, s, engine.UndoOptions{Force: true})
	if got := enginetest.Joined(t, db, `SELECT a || b FROM t ORDER BY a, b`); got != "1a,2b" {
		t.Fatalf("rows after the forced retry %q, want 1a,2b", got)
	}
}

// A partly undone entry whose rows include a trigger's deletes from a
// table without a key: each retry re-inserts those rows again.
func TestReview7PartialRetryReinsertsKeylessDeletesTwice(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE k (a TEXT)`,
		`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, `INSERT INTO k VALUES ('one'), ('two')`,
		`CREATE TRIGGER tr AFTER UPDATE ON t WHEN new.id = 1 BEGIN DELETE FROM k; END`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`)
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'theirs' WHERE id = 2`)
	rep := enginetest.MustUndo(t, s, engine.UndoOptions{})
	if len(rep.Partial) != 1 {
		t.Fatalf("first undo: partial %v conflicts %v", rep.Partial, rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT a FROM k ORDER BY a`); got != "one,two" {
		t.Fatalf("k after the first undo: %q", got)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'x' WHERE id = 2`) // resolved
	rep = enginetest.MustUndo(t, s, engine.UndoOptions{})
	if got := enginetest.Joined(t, db, `SELECT a FROM k ORDER BY a`); got != "one,two" {
		t.Fatalf("k after undoing the partly undone entry %d again: %q, want one,two (rows %d)", seqs[0], got, rep.Rows)
	}
}

// Undoing the first (partial) undo after a second undo completed the
// entry re-applies the rows the first one put back; the entry is partly
// in place again, but the journal calls it undone and refuses to undo it.
func TestReview7UndoOfFirstPartialUndoAfterCompletion(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`)
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'theirs' WHERE id = 2`)
	u1 := enginetest.MustUndo(t, s, engine.UndoOptions{})
	if len(u1.Partial) != 1 {
		t.Fatalf("first undo: partial %v", u1.Partial)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'x' WHERE id = 2`)
	if u2 := enginetest.MustUndo(t, s, engine.UndoOptions{}); !u2.Complete() || len(u2.Entries) != 1 {
		t.Fatalf("second undo: %+v", u2)
	}
	if u3 := enginetest.MustUndo(t, s, engine.UndoOptions{Entries: []int64{u1.Seq}}); !u3.Complete() {
		t.Fatalf("undo of the first undo: %+v", u3)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1x,2b" {
		t.Fatalf("rows %q", got)
	}
	if st := enginetest.State(t, s, seqs[0]); !journal.InPlace(st) {
		t.Fatalf("row 1 holds the entry's value again, but entry %d is %q", seqs[0], st)
	}
}

// An undo entry undone only in part (a conflict) is "partly undone", and
// as such still counts as undoing the entry it undid: that entry is
// "undone" although the partial undo of the undo re-applied its change
// to row 1, and undoing the session leaves that change in place.
func TestReview7PartlyUndoneUndoEntryMarksItsEntryUndone(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`)
	u1 := enginetest.MustUndo(t, s, engine.UndoOptions{})
	if !u1.Complete() {
		t.Fatal(u1.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'theirs' WHERE id = 2`)
	u2 := enginetest.MustUndo(t, s, engine.UndoOptions{Entries: []int64{u1.Seq}})
	if len(u2.Partial) != 1 || u2.Partial[0] != u1.Seq {
		t.Fatalf("undo of the undo: partial %v conflicts %v", u2.Partial, u2.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1x,2theirs" {
		t.Fatalf("rows after the undo of the undo %q", got)
	}
	st := enginetest.State(t, s, seqs[0])
	enginetest.MustUndo(t, s, engine.UndoOptions{}) // the whole session
	if got := enginetest.Joined(t, db, `SELECT v FROM t WHERE id = 1`); got != "a" {
		t.Fatalf("entry %d is %q while its change to row 1 is back in place; undoing the session left row 1 = %q, want a", seqs[0], st, got)
	}
}

// A table renamed and renamed back (or a column): its rows recorded
// before have the names the table has now, but are blocked as conflicts
// naming the first rename.
func TestReview7RenamedBackBlocksRows(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`, `ALTER TABLE t RENAME TO t2`, `ALTER TABLE t2 RENAME TO t`,
		`ALTER TABLE t RENAME COLUMN v TO w`, `ALTER TABLE t RENAME COLUMN w TO v`)
	rep := enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo of the UPDATE, with the table and column as they were: conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT v FROM t`); got != "a" {
		t.Fatalf("row %q", got)
	}
}

// SQLite names ignore case: a column renamed only in case leaves older
// images naming it still valid, yet they are blocked.
func TestReview7RenameColumnCaseOnlyBlocks(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`, `ALTER TABLE t RENAME COLUMN v TO V`)
	rep := enginetest.MustUndo(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo of the UPDATE with the column renamed only in case: conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT v FROM t`); got != "a" {
		t.Fatalf("row %q", got)
	}
}

// A later entry that dropped the table and created another of the same
// name: rows recorded before are not blocked.
func TestReview7LaterDropAndRecreateNotBlocked(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET a = 'x'`, `DROP TABLE t`, `CREATE TABLE t (id INTEGER PRIMARY KEY, z TEXT)`, `INSERT INTO t VALUES (1, 'new')`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs[:1]})
	if err != nil {
		t.Fatalf("undo of the UPDATE of the table dropped since: %v (want a conflict naming entry %d)", err, seqs[1])
	}
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer has column(s) a") {
		t.Fatalf("undo of the UPDATE of a table dropped since: entries %v undone, %d rows, conflicts %v, state %q, rows now %q (the image's column a is read as the string 'a', which equals the before-image, so the row counts as back already)",
			rep.Entries, rep.Rows, rep.Conflicts, enginetest.State(t, s, seqs[0]), enginetest.Joined(t, db, `SELECT id || z FROM t`))
	}
}

// Undoing a forced undo of ADD COLUMN puts the column back but not the
// values the forced undo dropped: a "skipped" line, so the forced undo is
// listed as partial and becomes "partly undone", which still counts as
// undoing the ADD COLUMN. The ADD COLUMN entry is then "undone" while its
// column is there again, and it can no longer be undone.
func TestReview7UndoOfForcedUndoLeavesAlterMarkedUndone(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 5`) // someone else
	u1 := enginetest.MustUndo(t, s, engine.UndoOptions{Force: true})
	if len(u1.Conflicts) != 0 || len(u1.Entries) != 1 {
		t.Fatalf("forced undo: %+v", u1)
	}
	u2 := enginetest.MustUndo(t, s, engine.UndoOptions{Entries: []int64{u1.Seq}})
	if len(u2.Entries) != 1 {
		t.Fatalf("undo of the forced undo: %+v", u2)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(name) FROM pragma_table_info('t')`); got != "id,v,c" {
		t.Fatalf("columns after undoing the forced undo: %q", got)
	}
	if st := enginetest.State(t, s, seqs[0]); !journal.InPlace(st) {
		_, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs, DryRun: true})
		t.Fatalf("column c is back, but the ADD COLUMN entry %d is %q (forced undo %d is %q); undoing it: %v", seqs[0], st, u1.Seq, enginetest.State(t, s, u1.Seq), err)
	}
}

// The undo script of a partly undone entry (selectUndo now includes it)
// re-inserts the keyless rows the engine's partial undo already put back:
// the script's run-once marker knows nothing of that undo.
func TestReview7ScriptOfPartlyUndoneEntryDuplicatesKeylessRows(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE k (a TEXT)`,
		`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, `INSERT INTO k VALUES ('one'), ('two')`,
		`CREATE TRIGGER tr AFTER UPDATE ON t WHEN new.id = 1 BEGIN DELETE FROM k; END`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = 'x'`)
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'theirs' WHERE id = 2`)
	if rep := enginetest.MustUndo(t, s, engine.UndoOptions{}); len(rep.Partial) != 1 {
		t.Fatalf("first undo: partial %v conflicts %v", rep.Partial, rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 'x' WHERE id = 2`) // resolved
	d, err := engine.Lookup("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := engine.WriteUndoScript(s.Journal(), d.(engine.Scripter), nil, &b); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if !strings.HasPrefix(l, ".") {
			lines = append(lines, l)
		}
	}
	enginetest.ExecAll(t, db, strings.Join(lines, "\n"))
	if got := enginetest.Joined(t, db, `SELECT a FROM k ORDER BY a`); got != "one,two" {
		t.Fatalf("k after running the undo script of the partly undone session: %q, want one,two", got)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1a,2b" {
		t.Fatalf("t after the script: %q", got)
	}
}
