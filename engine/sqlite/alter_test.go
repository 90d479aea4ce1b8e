package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

func undoWith(t *testing.T, s *engine.Session, opt engine.UndoOptions) *engine.UndoReport {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	if err != nil {
		t.Fatalf("Undo(%+v): %v", opt, err)
	}
	return rep
}

// DROP COLUMN images every row; undo rebuilds the table with the CREATE
// statement before the drop (the column in its place, its comment too)
// and every row's value, and undoes the rest of the session around it.
func TestUndoAlterDropColumn(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT,
		"gone ""x""" TEXT COLLATE NOCASE DEFAULT 'd' CHECK ("gone ""x""" <> 'bad') /* dropped */, z BLOB)`,
		`INSERT INTO t VALUES (1, 'x', 'lost?', x'00ff'), (2, 'y', NULL, NULL)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t DROP COLUMN "gone ""x"""`, `UPDATE t SET a = 'z'`)
	e, err := s.Journal().Entry(seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.ImageCount != 2 {
		t.Errorf("DROP COLUMN imaged %d rows, want 2", e.ImageCount)
	}
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(concat_ws('/', id, a, hex(z), "gone ""x""", typeof("gone ""x""")), ',') FROM (SELECT * FROM t ORDER BY id)`); got != "1/x/00FF/lost?/text,2/y//null" {
		t.Errorf("rows after undo: %s (report %+v)", got, rep)
	}
	// The rename that puts the rebuilt table in place quotes its name.
	want := `CREATE TABLE "t" (id INTEGER PRIMARY KEY, a TEXT,
		"gone ""x""" TEXT COLLATE NOCASE DEFAULT 'd' CHECK ("gone ""x""" <> 'bad') /* dropped */, z BLOB)`
	if got := enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`); got != want {
		t.Errorf("definition after undo:\n%s\nwant:\n%s", got, want)
	}
	// A CHECK the values no longer pass (someone could not have written
	// them: the column was not there) is not the case; a value the column
	// gets back still has to pass it, and does.
	if n := enginetest.Joined(t, db, `SELECT count(*) FROM t WHERE "gone ""x""" = 'LOST?'`); n != "1" {
		t.Errorf("the column's collation did not come back: %s", n)
	}
}

// A NOT NULL column without a default, which SQLite's ADD COLUMN refuses
// in a table with rows, comes back through the rebuild; a row added since
// has no value for it, which is a conflict until that row is gone. A
// table without a key is left to people, and says why.
func TestUndoAlterDropColumnNotNull(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE nn (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL, w TEXT NOT NULL DEFAULT (upper('x')), x TEXT)`,
		`INSERT INTO nn (v, w) VALUES ('v1', 'w1'), ('v2', 'w2'), ('gone', 'g')`, `DELETE FROM nn WHERE v = 'gone'`,
		`CREATE INDEX nn_x ON nn (x)`, `CREATE TABLE nokey (a INTEGER, v TEXT)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE nn DROP COLUMN v`, `ALTER TABLE nn DROP COLUMN w`)
	enginetest.ExecAll(t, db, `INSERT INTO nn DEFAULT VALUES`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "NOT NULL constraint failed: lifebelt_undo_nn.v") {
		t.Fatalf("undo with a row added since: conflicts %+v", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `DELETE FROM nn WHERE id = 4`)
	rep = undoWith(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo once the row is gone: conflicts %+v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	got := enginetest.Joined(t, db, `SELECT group_concat(id || '/' || v || '/' || w, ',') FROM (SELECT * FROM nn ORDER BY id)`) + " " +
		enginetest.Joined(t, db, `SELECT seq FROM sqlite_sequence WHERE name = 'nn'`) + " " +
		enginetest.Joined(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 'nn_x'`)
	if got != "1/v1/w1,2/v2/w2 4 1" {
		t.Errorf("rows, AUTOINCREMENT counter and index after undo: %s, want 1/v1/w1,2/v2/w2 4 1", got)
	}
	if integrity := enginetest.Joined(t, db, `PRAGMA integrity_check`); integrity != "ok" {
		t.Errorf("integrity_check: %s", integrity)
	}

	_, warn := enginetest.CommitWarn(t, s, `ALTER TABLE nokey DROP COLUMN v`)
	if !strings.Contains(warn, "does not undo this change automatically") || !strings.Contains(warn, "no primary key or unique key") {
		t.Errorf("warnings %q", warn)
	}
}

// The trial ADD COLUMN that reads the undo's definition is rolled back:
// a later ALTER in the same batch that reaches the same schema version
// is recorded with its own definition, not the trial's.
func TestDropColumnTrialLeavesNoSchema(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)`, `INSERT INTO t VALUES (1, 'a', 'b')`)
	seqs := enginetest.CommitAll(t, s, "ALTER TABLE t DROP COLUMN b; ALTER TABLE t ADD COLUMN c TEXT")
	objs, err := s.Journal().Objects(seqs[0] + 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].After == nil || !strings.Contains(objs[0].After.Text, "c TEXT") || strings.Contains(objs[0].After.Text, "b TEXT") {
		t.Fatalf("the ADD COLUMN after the drop recorded %+v", objs)
	}
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT sql FROM sqlite_schema WHERE name = 't'`); got != `CREATE TABLE "t" (id INTEGER PRIMARY KEY, a TEXT, b TEXT)` {
		t.Errorf("definition after undo: %s", got)
	}
}

func TestUndoAlterAddColumnWithReference(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE p (id INTEGER PRIMARY KEY)`, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN pid INTEGER REFERENCES p(id)`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if len(rep.Skipped) != 1 || len(rep.Conflicts) != 0 {
		t.Fatalf("skipped %q, conflicts %v", rep.Skipped, rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(name) FROM pragma_table_info('t')`); got != "id,pid" {
		t.Errorf("columns after undo: %s", got)
	}
}

// STRICT and WITHOUT ROWID tables: the added column's text is found in
// the CREATE statement ahead of the table options, so undoing the undo
// adds it back as it was; a text default is compared with the column's
// affinity.
func TestUndoAlterAddColumnTableOptions(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT) STRICT`,
		`CREATE TABLE w (id TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID`,
		`INSERT INTO s VALUES (1, 'a')`, `INSERT INTO w VALUES ('k', 'a')`)
	schema := func() string {
		return enginetest.Joined(t, db, `SELECT group_concat(sql, ' | ') FROM (SELECT sql FROM sqlite_schema WHERE name IN ('s', 'w') ORDER BY name)`)
	}
	before := schema()
	enginetest.CommitAll(t, s, `ALTER TABLE s ADD COLUMN n INTEGER NOT NULL DEFAULT '7' CHECK (n > 0)`,
		`ALTER TABLE w ADD n REAL DEFAULT 1.5`)
	after := schema()
	if !strings.Contains(after, "n INTEGER NOT NULL DEFAULT '7' CHECK (n > 0)) STRICT") {
		t.Fatalf("schema after ADD COLUMN: %s", after)
	}
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() || len(rep.Notes) > 1 {
		t.Fatalf("undo: conflicts %v, skipped %q, notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := schema(); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undoing the undo: conflicts %v, skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := schema(); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
	// A value other than the default is someone's: the undo of the undo
	// of the undo meets it.
	enginetest.ExecAll(t, db, `UPDATE s SET n = 8`)
	rep3 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}, DryRun: true})
	if len(rep3.Conflicts) != 1 || !strings.Contains(rep3.Conflicts[0].Reason, "1 row(s) of s hold values in column n other than the one the ALTER gave every row (7)") {
		t.Fatalf("conflicts %v", rep3.Conflicts)
	}
}

// The rows DROP COLUMN imaged are reported as rewritten, not deleted.
func TestAlterDropColumnImpact(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, gone TEXT)`,
		`INSERT INTO t VALUES (1, 'x', 'y'), (2, 'y', NULL), (3, 'z', 'w')`)
	p, err := s.Execute(context.Background(), `DELETE FROM t WHERE id = 3; ALTER TABLE t DROP COLUMN gone`, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Rollback(context.Background())
	if len(p.Impact) != 1 || p.Impact[0].Deleted != 1 || p.Impact[0].Rewritten != 2 || p.RowsChanged() != 3 {
		t.Fatalf("impact %+v, rows changed %d; want 1 deleted, 2 rewritten, 3 changed", p.Impact, p.RowsChanged())
	}
}

// A DROP COLUMN whose values no longer pass the column's CHECK is a
// conflict: its revert is rolled back, triggers the fill suspended are
// there as before, and the rest of the session is undone. Once the data
// allows it, the column comes back, without firing the table's triggers.
func TestUndoDropColumnFillFails(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT CHECK (b <> a))`,
		`CREATE TABLE log (n INTEGER)`, `CREATE TRIGGER t_upd AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (1); END`,
		`INSERT INTO t VALUES (1, 'x', 'y')`, `CREATE TABLE o (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO o VALUES (1, 'o')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE o SET v = 'p'`, `ALTER TABLE t DROP COLUMN b`)
	enginetest.ExecAll(t, db, `UPDATE t SET a = 'y'`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "CHECK constraint failed") || len(rep.Entries) != 1 || rep.Entries[0] != seqs[0] {
		t.Fatalf("undo: entries %v, conflicts %+v", rep.Entries, rep.Conflicts)
	}
	state := func() string {
		return enginetest.Joined(t, db, `SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'trigger') || '/' || (SELECT count(*) FROM log) || '/' || (SELECT v FROM o)`)
	}
	if got := state(); got != "1/1/o" {
		t.Fatalf("triggers/log rows/o after the conflict: %s, want 1/1/o", got)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET a = 'x'`)
	rep = undoWith(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if !rep.Complete() {
		t.Fatalf("undo once the data allows it: conflicts %+v", rep.Conflicts)
	}
	if got := state() + " " + enginetest.Joined(t, db, `SELECT b FROM t`); got != "1/2/o y" {
		t.Errorf("triggers/log rows/o and b after the undo: %s, want 1/2/o y", got)
	}
}
