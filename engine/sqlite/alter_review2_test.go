package sqlite_test

// Second review of the SQLite ALTER TABLE undo (6380cd1..9daa0c3).

import (
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A forced revert of ADD COLUMN images every row of the table into the
// undo entry; the undo also wrote a row image of the same table (undoing
// an UPDATE of another column). The sink gives both the same table handle,
// the ALTER object records that handle as "values the ALTER destroyed",
// and undoing the undo skips every image of that handle: the UPDATE is
// not re-applied, silently.
func TestAlterReview2ForcedRevertSkipsRows(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`, `UPDATE t SET v = 'z' WHERE id = 1`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 7 WHERE id = 2`) // someone's value: forces
	rep := undoWith(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 {
		t.Fatalf("forced undo: conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v) FROM (SELECT * FROM t ORDER BY id)`); got != "1a,2b" {
		t.Fatalf("rows after forced undo: %s", got)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	t.Logf("undo of the undo: conflicts %v skipped %q notes %q", rep2.Conflicts, rep2.Skipped, rep2.Notes)
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v || ':' || coalesce(c, '-')) FROM (SELECT * FROM t ORDER BY id)`); got != "1z:-,2b:-" {
		t.Errorf("rows after undoing the forced undo: %s, want 1z:-,2b:- (the session's UPDATE re-applied, the column back without the forced-away value)", got)
	}
}

// A forced drop of a created table images its rows under the same table
// handle as the undo's own row images of that table (undoing the
// session's INSERT and UPDATE). Undoing the undo re-creates the table and
// inserts the before-image of every image of that handle: the deleted
// row, the updated row's old version and the imaged rows, so one key is
// inserted twice and the whole undo fails.
func TestAlterReview2ForcedDropCreatedSharedHandle(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE keep (x)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO n VALUES (1, 'a')`, `UPDATE n SET v = 'b' WHERE id = 1`)
	enginetest.ExecAll(t, db, `INSERT INTO n VALUES (2, 'x')`) // someone's row: forces
	rep := undoWith(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 {
		t.Fatalf("forced undo: conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 'n'`); got != "0" {
		t.Fatalf("n after the forced undo: %s", got)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the forced undo: %v", err)
	}
	t.Logf("undo of the undo: conflicts %v skipped %q notes %q", rep2.Conflicts, rep2.Skipped, rep2.Notes)
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v) FROM (SELECT * FROM n ORDER BY id)`); got != "1b,2x" {
		t.Errorf("rows of n after undoing the forced undo: %s, want 1b,2x", got)
	}
}

// laterUse looks only at later statement entries, not later undo entries:
// an undo of the UPDATE (journaled under the new column name) does not
// stop the rename from being reverted, and that undo entry can then no
// longer be undone: SQLite's error instead of a conflict.
func TestAlterReview2LaterUndoEntryIgnored(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN v TO w`, `UPDATE t SET w = 'z' WHERE id = 1`)
	u1 := undoWith(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if !u1.Complete() {
		t.Fatalf("undo of the UPDATE: %v %q", u1.Conflicts, u1.Skipped)
	}
	// Undoing entries one by one, newest first, goes past undo entries.
	u2 := undoWith(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !u2.Complete() {
		t.Fatalf("undo of the ALTER after the UPDATE's undo: %v %q", u2.Conflicts, u2.Skipped)
	}
	// The UPDATE's undo, undone now, meets its rows under a name that is
	// gone: conflicts, and nothing is written (README).
	u3, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{u1.Seq}})
	if err != nil {
		t.Fatalf("undo of the UPDATE's undo, after the ALTER was reverted: %v", err)
	}
	if len(u3.Conflicts) == 0 || u3.Rows != 0 {
		t.Errorf("undo of the UPDATE's undo: conflicts %v, rows %d; want conflicts and nothing written", u3.Conflicts, u3.Rows)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t WHERE id = 1`); got != "1a" {
		t.Errorf("row 1 is %s", got)
	}
}

// Undoing an undo whose re-applied rename is refused (someone created an
// index since): README says the ALTER is left in place and its entry stays
// committed; the undo entry is reported undone instead, and the journal
// then holds the original ALTER as committed while the table does not
// have its name.
func TestAlterReview2RefusedUndoOfUndoMarkedUndone(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN v TO w`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: %v %q", rep.Conflicts, rep.Skipped)
	}
	enginetest.ExecAll(t, db, `CREATE INDEX someone ON t (v)`)
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if len(rep2.Conflicts) != 1 {
		t.Fatalf("undo of the undo: conflicts %v", rep2.Conflicts)
	}
	if len(rep2.Entries) != 0 {
		t.Errorf("undo of the undo refused its only change, yet reports entries %v undone (their state: %s)", rep2.Entries, entryStates(t, s))
	}
}

func entryStates(t *testing.T, s *engine.Session) string {
	t.Helper()
	es, err := s.Journal().Entries()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString(" ")
		b.WriteString(e.Kind + ":" + e.State)
	}
	return b.String()
}

// A forced drop of a created table with generated columns, rows put in by
// someone else; undoing the undo brings them back (README).
func TestAlterReview2ForcedDropCreatedGenerated(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE keep (x)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT, g TEXT GENERATED ALWAYS AS (v || '!') VIRTUAL, h TEXT AS (upper(v)) STORED)`)
	enginetest.ExecAll(t, db, `INSERT INTO n (id, v) VALUES (2, 'x')`)
	rep := undoWith(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 {
		t.Fatalf("forced undo: conflicts %v", rep.Conflicts)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the forced undo: %v", err)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v || g || h) FROM n`); got != "2xx!X" || !rep2.Complete() {
		t.Errorf("rows of n after undoing the forced undo: %s; conflicts %v skipped %q", got, rep2.Conflicts, rep2.Skipped)
	}
}

// The same for a forced revert of ADD COLUMN on a table with generated
// columns: undoing the undo re-adds the column and keeps the rows.
func TestAlterReview2ForcedRevertGenerated(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, g TEXT AS (v || '!') STORED)`, `INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`, `UPDATE t SET v = 'z' WHERE id = 1`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 7 WHERE id = 2`)
	rep, err := rvUndo(t, s, engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo: %v", err)
	}
	t.Logf("forced undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the forced undo: %v", err)
	}
	t.Logf("undo of undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v || g) FROM (SELECT * FROM t ORDER BY id)`); got != "1zz!,2bb!" {
		t.Errorf("rows after undoing the forced undo: %s", got)
	}
}

// Undo of the undo of the undo across a DROP TABLE of a filled table and an
// ALTER of another filled table, rows written between.
func TestAlterReview2DropAndAlterThrice(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE "a" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `CREATE TABLE "b" ("id" INTEGER PRIMARY KEY, "w" TEXT)`,
		`INSERT INTO a VALUES (1, 'a1'), (2, 'a2')`, `INSERT INTO b VALUES (1, 'b1'), (2, 'b2')`)
	state := func() string {
		st := rvSchema(t, db)
		for _, tb := range []string{"a", "b", "b2"} {
			if enginetest.Joined(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = '`+tb+`'`) == "1" {
				st += " || " + tb + ": " + enginetest.Joined(t, db, `SELECT group_concat(x, ';') FROM (SELECT quote(id) || ',' || quote(`+map[string]string{"a": "v", "b": "w", "b2": "w"}[tb]+`) AS x FROM "`+tb+`" ORDER BY id)`)
			}
		}
		return st
	}
	s0 := state()
	enginetest.CommitAll(t, s,
		`UPDATE b SET w = 'bx' WHERE id = 1`,
		`ALTER TABLE b ADD COLUMN "c" INTEGER`,
		`UPDATE b SET c = 3, w = 'by' WHERE id = 2`,
		`ALTER TABLE b RENAME TO "b2"`,
		`UPDATE a SET v = 'ax' WHERE id = 1`,
		`DROP TABLE a`,
		`INSERT INTO b2 VALUES (3, 'b3', 4)`)
	s1 := state()
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() || rvNotes(rep) {
		t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := state(); got != s0 {
		t.Errorf("after undo:\n%s\nwant\n%s", got, s0)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := state(); got != s1 {
		t.Errorf("after undoing the undo:\n%s\nwant\n%s", got, s1)
	}
	rep3 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
	if !rep3.Complete() {
		t.Errorf("third undo: conflicts %v skipped %q", rep3.Conflicts, rep3.Skipped)
	}
	if got := state(); got != s0 {
		t.Errorf("after the third undo:\n%s\nwant\n%s", got, s0)
	}
	rep4 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep3.Seq}})
	if !rep4.Complete() {
		t.Errorf("fourth undo: conflicts %v skipped %q", rep4.Conflicts, rep4.Skipped)
	}
	if got := state(); got != s1 {
		t.Errorf("after the fourth undo:\n%s\nwant\n%s", got, s1)
	}
}

// ADD COLUMN, then RENAME TO, with the table's name unquoted (the usual
// spelling): undoing the rename leaves CREATE TABLE "t" (SQLite quotes a
// renamed name), which is then not the definition recorded after the ADD
// COLUMN: the whole-session undo leaves the added column as a conflict.
func TestAlterReview2AddColumnThenRenameTable(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`, `ALTER TABLE t RENAME TO t2`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q; schema now %s", rep.Conflicts, rep.Skipped, rvSchema(t, db))
	}
}

// CREATE TABLE, rows, ADD COLUMN, rows, RENAME COLUMN: undo, and undo of
// undo of undo of undo.
func TestAlterReview2CreateAlterFourTimes(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "keep" ("x")`)
	state := func() string {
		st := rvSchema(t, db)
		if enginetest.Joined(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 'n'`) == "1" {
			st += " || " + enginetest.Joined(t, db, `SELECT group_concat(x, ';') FROM (SELECT quote("id") || quote("v") AS x FROM "n" ORDER BY "id")`)
		}
		return st
	}
	s0 := state()
	enginetest.CommitAll(t, s,
		`CREATE TABLE "n" ("id" INTEGER PRIMARY KEY, "v" TEXT)`,
		`INSERT INTO "n" VALUES (1, 'a'), (2, 'b')`,
		`ALTER TABLE "n" ADD COLUMN "c" INTEGER`,
		`UPDATE "n" SET "c" = 5, "v" = 'z' WHERE "id" = 1`,
		`ALTER TABLE "n" RENAME COLUMN "c" TO "d"`,
		`UPDATE "n" SET "v" = 'q' WHERE "id" = 2`)
	s1 := state()
	seq := int64(0)
	for i, want := range []string{s0, s1, s0, s1} {
		opt := engine.UndoOptions{}
		if seq != 0 {
			opt.Entries = []int64{seq}
		}
		rep, err := rvUndo(t, s, opt)
		if err != nil {
			t.Fatalf("undo %d: %v", i+1, err)
		}
		if !rep.Complete() {
			t.Errorf("undo %d: conflicts %v skipped %q", i+1, rep.Conflicts, rep.Skipped)
		}
		if got := state(); got != want {
			t.Errorf("after undo %d:\n%s\nwant\n%s", i+1, got, want)
		}
		seq = rep.Seq
	}
}

// Pre-existing (4df3406 fails the same, case a): a session that creates a
// table, fills it and deletes a row of it cannot be undone at all on
// SQLite: undo re-inserts the row, drops the table, then moves the
// sequences of the table it re-inserted into, which is gone.
func TestAlterReview2CreateAlterNarrow(t *testing.T) {
	cases := [][]string{
		{`CREATE TABLE "n" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "n" VALUES (1, 'a'), (2, 'b')`, `DELETE FROM "n" WHERE "id" = 2`},
		{`CREATE TABLE "n" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "n" VALUES (1, 'a'), (2, 'b')`, `ALTER TABLE "n" ADD COLUMN "c" INTEGER`, `DELETE FROM "n" WHERE "id" = 2`},
		{`CREATE TABLE "n" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "n" VALUES (1, 'a'), (2, 'b')`, `ALTER TABLE "n" RENAME COLUMN "v" TO "w"`, `DELETE FROM "n" WHERE "id" = 2`},
	}
	for i, c := range cases {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE "keep" ("x")`)
			enginetest.CommitAll(t, s, c...)
			rep, err := rvUndo(t, s, engine.UndoOptions{})
			if err != nil {
				t.Fatalf("undo: %v", err)
			}
			if !rep.Complete() {
				t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
			}
		})
	}
}

// laterUse with the later statement spelling the table main."T".
func TestAlterReview2LaterUseSpelling(t *testing.T) {
	for _, later := range []string{`UPDATE main."T" SET w = 'z' WHERE id = 1`, `UPDATE "T" SET w = 'z' WHERE id = 1`, `INSERT INTO main.t (id, w) VALUES (3, 'c')`} {
		t.Run(later, func(t *testing.T) {
			s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
			seqs := enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN v TO w`, later)
			rep := undoWith(t, s, engine.UndoOptions{Entries: seqs[:1]})
			if len(rep.Conflicts) != 1 || len(rep.Entries) != 0 {
				t.Errorf("undo of the rename alone: conflicts %v entries %v", rep.Conflicts, rep.Entries)
			}
		})
	}
}

// Whole-session undo where the rename is refused (someone's index): the
// earlier UPDATE, imaged under the old column name, cannot be undone; that
// must be a conflict, not an error that aborts the undo, and the rename's
// entry stays committed.
func TestAlterReview2RefusedRenameEarlierRows(t *testing.T) {
	for _, alter := range []string{`ALTER TABLE t RENAME COLUMN v TO w`, `ALTER TABLE t RENAME TO t2`, `ALTER TABLE t ADD COLUMN c INTEGER`} {
		t.Run(alter, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
			enginetest.CommitAll(t, s, `UPDATE t SET v = 'z' WHERE id = 1`, alter)
			enginetest.ExecAll(t, db, `CREATE INDEX someone ON `+map[bool]string{true: "t2", false: "t"}[strings.Contains(alter, "t2")]+` (id)`)
			rep, err := rvUndo(t, s, engine.UndoOptions{})
			if err != nil {
				t.Fatalf("undo: %v", err)
			}
			t.Logf("undo: conflicts %v entries %v; states %s", rep.Conflicts, rep.Entries, entryStates(t, s))
		})
	}
}
