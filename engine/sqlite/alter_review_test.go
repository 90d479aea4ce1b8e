package sqlite_test

// Review of the SQLite ALTER TABLE undo (commit b9138a9).

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

func rvSchema(t *testing.T, db *sql.DB) string {
	t.Helper()
	return enginetest.Joined(t, db, `SELECT group_concat(type || ' ' || name || ': ' || coalesce(sql, ''), ' | ') FROM (SELECT * FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name)`)
}

func rvUndo(t *testing.T, s *engine.Session, opt engine.UndoOptions) (*engine.UndoReport, error) {
	t.Helper()
	return s.Undo(context.Background(), opt)
}

func rvNotes(rep *engine.UndoReport) bool {
	for _, n := range rep.Notes {
		if strings.Contains(n, "does not have exactly the definition") {
			return true
		}
	}
	return false
}

// A plain (unquoted) RENAME COLUMN: SQLite writes the new name quoted, and
// the revert quotes the old one, so after undo the table's CREATE text is
// not the one before the ALTER; the undo of the undo then compares the
// table with the recorded before-definition and calls it a conflict.
func TestAlterReviewRenameColumnUnquoted(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN v TO w`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s\n(notes %q)", got, before, rep.Notes)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// The same for RENAME TO.
func TestAlterReviewRenameTableUnquoted(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME TO t2`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	// SQLite writes a renamed table's name quoted, however the statement
	// spells it: the text differs in that quoting only, which undo takes
	// for the same definition.
	if got := rvSchema(t, db); got != `table t: CREATE TABLE "t" (id INTEGER PRIMARY KEY, v TEXT)` {
		t.Errorf("schema after undo:\n%s", got)
	}
	if n := strings.Join(rep.Notes, "\n"); strings.Contains(n, "differs") {
		t.Errorf("notes %q", rep.Notes)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// ADD COLUMN on a table with a table constraint: SQLite inserts the column
// ahead of ", PRIMARY KEY (...)", and addedColumnText does not find it, so
// the undo entry cannot re-add the column: undoing the undo fails or skips.
func TestAlterReviewAddColumnTableConstraint(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (a INTEGER, b INTEGER, PRIMARY KEY (a, b))`, `INSERT INTO t VALUES (1, 1), (2, 2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`, `UPDATE t SET c = 5 WHERE a = 1`)
	after := rvSchema(t, db)
	rows := enginetest.Joined(t, db, `SELECT a || ':' || coalesce(c, '-') FROM t ORDER BY a`)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the undo: %v", err)
	}
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
	if got := enginetest.Joined(t, db, `SELECT a || ':' || coalesce(c, '-') FROM t ORDER BY a`); got != rows {
		t.Errorf("rows after undoing the undo: %s, want %s", got, rows)
	}
}

// The check for values written into an added column compares with the
// column's collation: a value someone wrote that equals the default only
// under NOCASE is dropped with the column, without a conflict.
func TestAlterReviewAddColumnNocaseLosesValue(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c TEXT COLLATE NOCASE DEFAULT 'abc'`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 'ABC' WHERE id = 1`) // someone else's value
	rep := undoWith(t, s, engine.UndoOptions{Entries: seqs, DryRun: true})
	if len(rep.Conflicts) != 1 {
		t.Errorf("undo of ADD COLUMN with a value 'ABC' written since (default 'abc'): conflicts %v, want one (the value would be lost)", rep.Conflicts)
	}
}

// Likewise RTRIM: 'abc   ' is someone's value, not the default 'abc'.
func TestAlterReviewAddColumnRtrimLosesValue(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'abc' COLLATE RTRIM`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 'abc   ' WHERE id = 1`)
	rep := undoWith(t, s, engine.UndoOptions{Entries: seqs, DryRun: true})
	if len(rep.Conflicts) != 1 {
		t.Errorf("undo of ADD COLUMN with a value 'abc   ' written since (default 'abc'): conflicts %v, want one", rep.Conflicts)
	}
}

// A view (not part of the table's definition) that uses the added column
// makes SQLite refuse DROP COLUMN: the undo fails as a whole with SQLite's
// error instead of reporting a conflict for that ALTER.
func TestAlterReviewAddColumnUsedByView(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`, `UPDATE t SET v = 'b'`)
	enginetest.ExecAll(t, db, `CREATE VIEW someone AS SELECT id, c FROM t`)
	rep, err := rvUndo(t, s, engine.UndoOptions{Entries: seqs})
	if err != nil {
		t.Fatalf("undo failed instead of reporting a conflict: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("conflicts %v", rep.Conflicts)
	}
}

// One batch: ADD COLUMN then an UPDATE of the new column. Fine: each
// statement of a batch is its own entry, so the UPDATE is undone first.
func TestAlterReviewAddColumnSameEntry(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	before := rvSchema(t, db)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER; UPDATE t SET c = 5`)
	t.Logf("entries %v", seqs)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
}

// One batch: RENAME COLUMN then an UPDATE through the new name (fine).
func TestAlterReviewRenameColumnSameEntry(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t RENAME COLUMN v TO w; UPDATE t SET w = 'z'`)
	t.Logf("entries %v", seqs)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t`); got != "1a" {
		t.Errorf("rows after undo: %s", got)
	}
}

// A trigger on another table that writes the added column: SQLite drops
// the column anyway, and someone else's trigger is left broken.
func TestAlterReviewAddColumnOtherTriggerBroken(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE o (x)`, `INSERT INTO t VALUES (1, 'a')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c INTEGER`)
	enginetest.ExecAll(t, db, `CREATE TRIGGER someone AFTER INSERT ON o BEGIN UPDATE t SET c = new.x; END`)
	enginetest.ExecAll(t, db, `INSERT INTO o VALUES (NULL)`)
	rep, err := rvUndo(t, s, engine.UndoOptions{Entries: seqs})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	t.Logf("schema after undo: %s; conflicts %v notes %q", rvSchema(t, db), rep.Conflicts, rep.Notes)
	if _, err := db.Exec(`INSERT INTO o VALUES (NULL)`); err != nil {
		t.Errorf("someone else's trigger is broken by the undo (no conflict reported): %v", err)
	}
}

// The usual SQLite table rebuild: rename the old table away, create the
// new one under the old name, copy, drop the old one. The undo itself
// fails (see TestAlterReviewRenameTableThenDelete: the re-created t_old is
// renamed back to t, then its sequences are synced under the name t_old).
func TestAlterReviewRebuildPattern(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s,
		`ALTER TABLE t RENAME TO t_old`,
		`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER)`,
		`INSERT INTO t (id, v) SELECT id, v FROM t_old`,
		`DROP TABLE t_old`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Logf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the undo: %v", err)
	}
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// legacy_alter_table (set unguarded): a RENAME TO made in legacy mode
// leaves a view naming the old table; undo renames the table back (fine).
func TestAlterReviewLegacyAlterTable(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE VIEW vv AS SELECT v FROM t`, `INSERT INTO t VALUES (1, 'a')`)
	before := rvSchema(t, db)
	ctx := context.Background()
	for _, q := range []string{`PRAGMA legacy_alter_table = ON`, `ALTER TABLE "t" RENAME TO "t2"`} {
		p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName(), AllowUnguarded: true})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := p.Commit(ctx); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Logf("schema after the legacy rename: %s", rvSchema(t, db))
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if len(rep.Conflicts) != 0 || len(rep.Skipped) != 1 { // the PRAGMA
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
}

// A case-only column rename.
func TestAlterReviewRenameColumnCaseOnly(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s, `ALTER TABLE "t" RENAME COLUMN "v" TO "V"`, `UPDATE t SET V = 'b'`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() || rvNotes(rep) {
		t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// A case-only table rename (if SQLite allows it).
func TestAlterReviewRenameTableCaseOnly(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	before := rvSchema(t, db)
	ctx := context.Background()
	p, err := s.Execute(ctx, `ALTER TABLE "t" RENAME TO "T"`, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Skipf("case-only RENAME TO: %v", err)
	}
	if err := p.Commit(ctx); err != nil {
		t.Skipf("case-only RENAME TO: %v", err)
	}
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() || rvNotes(rep) {
		t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// DEFAULT followed by a bare identifier is a string default in SQLite;
// the check query uses the text as an expression, where it is a column.
func TestAlterReviewAddColumnIdentifierDefault(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c TEXT DEFAULT abc`)
	if got := enginetest.Joined(t, db, `SELECT c FROM t`); got != "abc" {
		t.Fatalf("value after ADD COLUMN: %s", got)
	}
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
}

// A double-quoted default is a string too, unless the table has a column
// of that name, in which the check query compares with that column.
func TestAlterReviewAddColumnDoubleQuotedDefault(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)`, `INSERT INTO t VALUES (1, 'other')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c TEXT DEFAULT "x"`)
	if got := enginetest.Joined(t, db, `SELECT c FROM t`); got != "x" {
		t.Fatalf("value after ADD COLUMN: %s", got)
	}
	// Nobody changed c: a false conflict.
	rep, err := rvUndo(t, s, engine.UndoOptions{Entries: seqs, DryRun: true})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo with c untouched: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	// Someone writes 'other' into c: that value is lost without a conflict.
	enginetest.ExecAll(t, db, `UPDATE t SET c = 'other'`)
	rep, err = rvUndo(t, s, engine.UndoOptions{Entries: seqs, DryRun: true})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("undo with someone's value 'other' in c (default 'x'): conflicts %v, want one", rep.Conflicts)
	}
}

// Defaults of unusual forms, none changed since: undo drops the column
// without a conflict, and undoing the undo adds it back exactly.
func TestAlterReviewAddColumnDefaults(t *testing.T) {
	for _, def := range []string{`INTEGER DEFAULT -1`, `BLOB DEFAULT x'00'`, `BOOLEAN DEFAULT TRUE`, `TEXT DEFAULT 'it''s %d'`,
		`TEXT DEFAULT 'a' COLLATE NOCASE`, `REAL DEFAULT -0.5`, `DEFAULT +7`, `TEXT NOT NULL DEFAULT ''`, `DEFAULT (NULL)`,
		`INTEGER DEFAULT 0x10`, `TEXT DEFAULT 'x' CHECK (c <> 'y')`, `AS (id * 2)`} {
		t.Run(def, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "100%d t" (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)`, `INSERT INTO "100%d t" VALUES (1, 'a'), (2, 'b')`)
			before := rvSchema(t, db)
			enginetest.CommitAll(t, s, `ALTER TABLE "100%d t" ADD COLUMN c `+def, `INSERT INTO "100%d t" (v) VALUES ('n')`)
			enginetest.ExecAll(t, db, `INSERT INTO "100%d t" (v) VALUES ('someone')`, `DELETE FROM "100%d t" WHERE v = 'someone'`)
			after := rvSchema(t, db)
			rows := enginetest.Joined(t, db, `SELECT quote(id) || quote(c) FROM "100%d t"`)
			rep := undoWith(t, s, engine.UndoOptions{})
			if !rep.Complete() || rvNotes(rep) {
				t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
			}
			if got := rvSchema(t, db); got != before {
				t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
			}
			rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
			if !rep2.Complete() {
				t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
			}
			if got := rvSchema(t, db); got != after {
				t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
			}
			if got := enginetest.Joined(t, db, `SELECT quote(id) || quote(c) FROM "100%d t"`); got != rows {
				t.Errorf("rows after undoing the undo: %s want %s", got, rows)
			}
			// someone's value: conflict reason formats
			enginetest.ExecAll(t, db, `UPDATE "100%d t" SET v = 'q'`)
			if !strings.HasPrefix(def, "AS") {
				enginetest.ExecAll(t, db, `UPDATE "100%d t" SET c = x'ff' WHERE id = 1`)
				rep3 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}, DryRun: true})
				if len(rep3.Conflicts) == 0 || strings.Contains(rep3.Conflicts[len(rep3.Conflicts)-1].Reason, "%!") {
					t.Errorf("conflicts %v", rep3.Conflicts)
				} else {
					t.Logf("reason: %s", rep3.Conflicts[len(rep3.Conflicts)-1].Reason)
				}
			}
		})
	}
}

// RENAME TO, then a DELETE under the new name. Undo re-inserts the row
// into the table under its new name, renames it back, and at the end
// moves the sequences of the table by the name it re-inserted under,
// which no longer exists: the whole undo fails.
func TestAlterReviewRenameTableThenDelete(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME TO t2`, `DELETE FROM t2 WHERE id = 1`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1a,2b" {
		t.Errorf("rows after undo: %s", got)
	}
}

// RENAME TO, then a new table under the old name (the first half of the
// usual rebuild). Undo drops the new table and renames the old one back;
// undoing that undo re-creates the dropped table first, before the rename
// it must follow: the name is taken, a false conflict, and the rename
// runs anyway, leaving the new table missing.
func TestAlterReviewRenameAwayCreateUndoOfUndo(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s,
		`ALTER TABLE "t" RENAME TO "t_old"`,
		`CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT NOT NULL, "n" INTEGER)`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Fatalf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the undo: %v", err)
	}
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// Undoing the RENAME COLUMN entry alone, before a later entry that wrote
// through the new name: the later entry cannot be undone afterwards, and
// says so with SQLite's error rather than a conflict.
func TestAlterReviewOutOfOrderRenameColumn(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE "t" RENAME COLUMN "v" TO "w"`, `UPDATE t SET w = 'z' WHERE id = 1`)
	// The rename alone: a conflict (the later UPDATE was imaged under
	// the new name); the entry stays committed.
	rep := undoWith(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "later in the session") || len(rep.Entries) != 0 {
		t.Fatalf("undo of entry %d alone: conflicts %v, entries %v", seqs[0], rep.Conflicts, rep.Entries)
	}
	for _, seq := range []int64{seqs[1], seqs[0]} {
		if rep, err := rvUndo(t, s, engine.UndoOptions{Entries: []int64{seq}}); err != nil || !rep.Complete() {
			t.Fatalf("undo of entry %d: %v, %+v", seq, err, rep)
		}
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v) FROM (SELECT * FROM t ORDER BY id)`); got != "1a,2b" {
		t.Errorf("rows: %s", got)
	}
}

// Undoing the ADD COLUMN entry alone, before a later entry that changed
// another column of the table (its images hold the added column too).
func TestAlterReviewOutOfOrderAddColumn(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE "t" ADD COLUMN "c" INTEGER`, `UPDATE t SET v = 'z' WHERE id = 1`, `DELETE FROM t WHERE id = 2`)
	rep := undoWith(t, s, engine.UndoOptions{Entries: seqs[:1]})
	t.Logf("undo of entry %d alone: conflicts %v skipped %q", seqs[0], rep.Conflicts, rep.Skipped)
	rep2, err := rvUndo(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if err != nil {
		t.Fatalf("undo of the rest: %v", err)
	}
	t.Logf("undo of the rest: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1a,2b" && len(rep2.Conflicts) == 0 {
		t.Errorf("rows: %s", got)
	}
}

// Quoted names throughout, with an index, a partial index, a trigger on
// the table, a view and a trigger on another table naming the renamed
// column and table: SQLite rewrites them all on rename. Is the whole
// schema the same after undo, and after undoing the undo?
func TestAlterReviewRenameDependents(t *testing.T) {
	for _, alter := range []string{`ALTER TABLE "t" RENAME COLUMN "v" TO "w"`, `ALTER TABLE "t" RENAME TO "t2"`} {
		t.Run(alter, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness,
				`CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT CHECK ("v" <> 'no'))`,
				`CREATE TABLE "log" ("x" TEXT)`,
				`CREATE INDEX "t_v" ON "t" ("v")`,
				`CREATE INDEX "t_p" ON "t" ("id") WHERE "v" IS NOT NULL`,
				`CREATE TRIGGER "t_tr" AFTER UPDATE OF "v" ON "t" BEGIN INSERT INTO "log" VALUES ("new"."v"); END`,
				`CREATE TRIGGER "log_tr" AFTER INSERT ON "log" BEGIN UPDATE "t" SET "v" = "v" WHERE 0; END`,
				`CREATE VIEW "vw" AS SELECT "t"."v" AS "vv" FROM "t"`,
				`INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
			before := rvSchema(t, db)
			enginetest.CommitAll(t, s, `UPDATE "t" SET "v" = 'c' WHERE "id" = 1`, alter)
			after := rvSchema(t, db)
			rep := undoWith(t, s, engine.UndoOptions{})
			if !rep.Complete() || rvNotes(rep) {
				t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
			}
			if got := rvSchema(t, db); got != before {
				t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
			}
			if got := enginetest.Joined(t, db, `SELECT count(*) FROM "log"`); got != "0" {
				t.Errorf("log rows after undo: %s", got)
			}
			rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
			if !rep2.Complete() {
				t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
			}
			if got := rvSchema(t, db); got != after {
				t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
			}
		})
	}
}

// TEMP tables of the session connection shadowing the names involved.
func TestAlterReviewTempShadow(t *testing.T) {
	cases := [][]string{
		{`CREATE TEMP TABLE "t2" ("z")`, `ALTER TABLE main."t" RENAME TO "t2"`, `UPDATE main."t2" SET "v" = 'q' WHERE "id" = 1`},
		{`CREATE TEMP TABLE "t" ("z")`, `ALTER TABLE main."t" ADD COLUMN "c" INTEGER DEFAULT 3`, `UPDATE main."t" SET "c" = 4 WHERE "id" = 1`},
		{`CREATE TEMP TABLE "t" ("z")`, `ALTER TABLE main."t" RENAME COLUMN "v" TO "w"`, `UPDATE main."t" SET "w" = 'q' WHERE "id" = 1`},
		{`CREATE TEMP TRIGGER "tt" AFTER UPDATE ON main."t" BEGIN SELECT "new"."v"; END`, `ALTER TABLE main."t" RENAME COLUMN "v" TO "w"`, `UPDATE main."t" SET "w" = 'q' WHERE "id" = 1`},
	}
	for i, c := range cases {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
			before := rvSchema(t, db)
			ctx := context.Background()
			for _, q := range c {
				p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName(), AllowUnguarded: true})
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if err := p.Commit(ctx); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			rep, err := rvUndo(t, s, engine.UndoOptions{})
			if err != nil {
				t.Fatalf("undo: %v", err)
			}
			t.Logf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
			if got := rvSchema(t, db); got != before {
				t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
			}
			if got := enginetest.Joined(t, db, `SELECT id || v FROM t ORDER BY id`); got != "1a,2b" {
				t.Errorf("rows after undo: %s", got)
			}
		})
	}
}

// Triggers are suspended while undo writes rows and resumed around each
// revert: rows written by the trigger are undone once, none fire again,
// through undo, undo of the undo and the third undo.
func TestAlterReviewTriggersAroundReverts(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `CREATE TABLE "log" ("x")`,
		`CREATE TRIGGER "tr" AFTER UPDATE OF "v" ON "t" BEGIN INSERT INTO "log" VALUES ("new"."v"); END`,
		`INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
	state := func() string {
		return rvSchema(t, db) + " || " + enginetest.Joined(t, db, `SELECT group_concat(x, ';') FROM (SELECT x FROM "log" ORDER BY rowid)`) +
			" || " + enginetest.Joined(t, db, `SELECT group_concat(quote("id"), ';') FROM (SELECT * FROM "t" ORDER BY "id")`)
	}
	s0 := state()
	enginetest.CommitAll(t, s,
		`UPDATE "t" SET "v" = 'x' WHERE "id" = 1`,
		`ALTER TABLE "t" RENAME COLUMN "v" TO "w"`,
		`UPDATE "t" SET "w" = 'y' WHERE "id" = 2`,
		`ALTER TABLE "t" ADD COLUMN "c" DEFAULT 'd'`,
		`UPDATE "t" SET "w" = 'z', "c" = 'e' WHERE "id" = 1`,
		`ALTER TABLE "t" RENAME TO "t2"`,
		`DELETE FROM "log" WHERE "x" = 'y'`)
	s1 := rvSchema(t, db) + " || " + enginetest.Joined(t, db, `SELECT group_concat(x, ';') FROM (SELECT x FROM "log" ORDER BY rowid)`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
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
	if got := rvSchema(t, db) + " || " + enginetest.Joined(t, db, `SELECT group_concat(x, ';') FROM (SELECT x FROM "log" ORDER BY rowid)`); got != s1 {
		t.Errorf("after undoing the undo:\n%s\nwant\n%s", got, s1)
	}
	rep3 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
	if !rep3.Complete() {
		t.Errorf("third undo: conflicts %v skipped %q", rep3.Conflicts, rep3.Skipped)
	}
	if got := state(); got != s0 {
		t.Errorf("after the third undo:\n%s\nwant\n%s", got, s0)
	}
}

// A dry run reverts the ALTER and rolls back: the connection's schema
// cache, keyed by the schema version, keeps the dry run's schema. Once
// another connection moves the version to the same number, the session
// captures with the dry run's column names.
func TestAlterReviewDryRunSchemaCache(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE "t" RENAME COLUMN "v" TO "w"`)
	v0 := enginetest.Joined(t, db, `PRAGMA schema_version`)
	rep := undoWith(t, s, engine.UndoOptions{DryRun: true})
	if !rep.Complete() {
		t.Fatalf("dry run: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	v1 := enginetest.Joined(t, db, `PRAGMA schema_version`)
	enginetest.ExecAll(t, db, `CREATE TABLE "other" ("x")`)
	t.Logf("schema version %s, after the dry run %s, after someone's CREATE TABLE %s", v0, v1, enginetest.Joined(t, db, `PRAGMA schema_version`))
	enginetest.CommitAll(t, s, `UPDATE "t" SET "w" = 'z' WHERE "id" = 1`)
	rep2, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep2.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || v) FROM t`); got != "1a,2b" {
		t.Errorf("rows after undo: %s", got)
	}
}

// A child table's foreign key follows the renamed parent (undo runs with
// foreign keys off), and the child's rows still match after undo.
func TestAlterReviewRenameParentOfForeignKey(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE "p" ("id" INTEGER PRIMARY KEY, "v" TEXT)`,
		`CREATE TABLE "c" ("id" INTEGER PRIMARY KEY, "pid" INTEGER REFERENCES "p" ("id") ON DELETE CASCADE)`,
		`INSERT INTO "p" VALUES (1, 'a'), (2, 'b')`, `INSERT INTO "c" VALUES (10, 1), (20, 2)`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s, `ALTER TABLE "p" RENAME COLUMN "id" TO "pk"`, `ALTER TABLE "p" RENAME TO "parent"`, `UPDATE "parent" SET "v" = 'z'`)
	after := rvSchema(t, db)
	rep := undoWith(t, s, engine.UndoOptions{})
	if !rep.Complete() || rvNotes(rep) {
		t.Fatalf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM pragma_foreign_key_check`); got != "0" {
		t.Errorf("foreign key violations after undo: %s", got)
	}
	rep2 := undoWith(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Errorf("undo of the undo: conflicts %v skipped %q", rep2.Conflicts, rep2.Skipped)
	}
	if got := rvSchema(t, db); got != after {
		t.Errorf("schema after undoing the undo:\n%s\nwant\n%s", got, after)
	}
}

// ADD COLUMN, a value in it, DROP TABLE: undo, undo of the undo, and the
// third undo.
func TestAlterReviewAddColumnThenDropTableThrice(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
	state := func() string {
		st := rvSchema(t, db)
		if enginetest.Joined(t, db, `SELECT count(*) FROM sqlite_schema WHERE name = 't'`) == "1" {
			st += " || " + enginetest.Joined(t, db, `SELECT group_concat(quote("id") || quote("v"), ';') FROM (SELECT * FROM "t" ORDER BY "id")`)
		}
		return st
	}
	s0 := state()
	enginetest.CommitAll(t, s, `ALTER TABLE "t" ADD COLUMN "c" INTEGER`, `UPDATE "t" SET "c" = 5 WHERE "id" = 1`, `DROP TABLE "t"`)
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
}

// RENAME TO then DROP TABLE under the new name: undo re-creates the table
// under the new name with its rows and renames it back.
func TestAlterReviewRenameTableThenDrop(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "v" TEXT)`, `INSERT INTO "t" VALUES (1, 'a'), (2, 'b')`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s, `ALTER TABLE "t" RENAME TO "t2"`, `DROP TABLE "t2"`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() {
		t.Errorf("undo: conflicts %v skipped %q", rep.Conflicts, rep.Skipped)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
}

// SQLite lets ADD COLUMN have DEFAULT CURRENT_TIMESTAMP on an empty table;
// rows inserted since each got their own value. README: "Where each row
// got its own value ... Any row is then a conflict." The check compares
// with the time of the undo instead, so a row written in the same second
// is dropped without a conflict.
func TestAlterReviewAddColumnCurrentTimestamp(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN ts TEXT DEFAULT CURRENT_TIMESTAMP`)
	enginetest.ExecAll(t, db, `INSERT INTO t (id) VALUES (1)`) // someone's row, its own timestamp
	rep := undoWith(t, s, engine.UndoOptions{Entries: seqs, DryRun: true})
	if len(rep.Conflicts) != 1 {
		t.Errorf("undo of ADD COLUMN ... DEFAULT CURRENT_TIMESTAMP with a row inserted since: conflicts %v, want one", rep.Conflicts)
	}
}

// RENAME TO of a child table, then an UPDATE of its foreign key column
// under the new name: undo writes rows of the table under its new name,
// renames it back, then checks references by the name it wrote under.
func TestAlterReviewRenameChildThenUpdate(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE "p" ("id" INTEGER PRIMARY KEY)`,
		`CREATE TABLE "c" ("id" INTEGER PRIMARY KEY, "pid" INTEGER REFERENCES "p" ("id"))`,
		`INSERT INTO "p" VALUES (1), (2)`, `INSERT INTO "c" VALUES (10, 1), (20, 2)`)
	before := rvSchema(t, db)
	enginetest.CommitAll(t, s, `ALTER TABLE "c" RENAME TO "c2"`, `UPDATE "c2" SET "pid" = 2 WHERE "id" = 10`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() || rvNotes(rep) {
		t.Errorf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := rvSchema(t, db); got != before {
		t.Errorf("schema after undo:\n%s\nwant\n%s", got, before)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat("id" || ':' || "pid") FROM "c"`); got != "10:1,20:2" {
		t.Errorf("rows after undo: %s", got)
	}
}

// The same with the parent renamed, then a child row moved to a parent
// deleted in the same session.
func TestAlterReviewRenameParentThenDelete(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		`CREATE TABLE "p" ("id" INTEGER PRIMARY KEY)`,
		`CREATE TABLE "c" ("id" INTEGER PRIMARY KEY, "pid" INTEGER REFERENCES "p" ("id"))`,
		`INSERT INTO "p" VALUES (1), (2), (3)`, `INSERT INTO "c" VALUES (10, 1), (20, 2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE "p" RENAME TO "p2"`, `UPDATE "c" SET "pid" = 3 WHERE "id" = 10`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() || rvNotes(rep) {
		t.Errorf("undo: conflicts %v skipped %q notes %q", rep.Conflicts, rep.Skipped, rep.Notes)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat("id" || ':' || "pid") FROM "c"`); got != "10:1,20:2" {
		t.Errorf("rows after undo: %s", got)
	}
}

// A row change before a DROP COLUMN that touched the dropped column is
// undone around it: the column comes back first (it was the last one, so
// in its place), then the change goes back through it. (Before DROP
// COLUMN was undone, this was a conflict naming the column.)
func TestAlterReviewDropColumnAround(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, gone TEXT)`,
		`INSERT INTO t VALUES (1, 'x', 'g1'), (2, 'y', NULL)`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET gone = 'z', a = 'w' WHERE id = 1`, `ALTER TABLE t DROP COLUMN gone`, `UPDATE t SET a = 'q'`)
	rep, err := rvUndo(t, s, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if !rep.Complete() || len(rep.Entries) != len(seqs) {
		t.Fatalf("undo: entries %v, conflicts %v skipped %q", rep.Entries, rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(concat_ws('/', id, a, gone)) FROM (SELECT * FROM t ORDER BY id)`); got != "1/x/g1,2/y" {
		t.Errorf("rows after undo: %s", got)
	}
}
