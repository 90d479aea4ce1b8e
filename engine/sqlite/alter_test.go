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

// DROP COLUMN images every row (the values are gone afterwards); undo
// leaves the column dropped, says so, and undoes the rest of the session.
func TestUndoAlterDropColumnSkipped(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, gone TEXT)`,
		`INSERT INTO t VALUES (1, 'x', 'lost?'), (2, 'y', NULL)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t DROP COLUMN gone`, `UPDATE t SET a = 'z'`)
	e, err := s.Journal().Entry(seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.ImageCount != 2 {
		t.Errorf("DROP COLUMN imaged %d rows, want 2", e.ImageCount)
	}
	rep := undoWith(t, s, engine.UndoOptions{})
	if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "does not undo automatically") || !strings.Contains(rep.Skipped[0], "rows it rewrote are in the journal") {
		t.Fatalf("skipped %q", rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT group_concat(id || a, ',') FROM (SELECT * FROM t ORDER BY id)`); got != "1x,2y" {
		t.Errorf("rows after undo: %s (report %+v)", got, rep)
	}
}

// A column added with a foreign key cannot be dropped by SQLite: undo says
// it does not undo that ALTER rather than fail.
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
	p, err := s.Execute(context.Background(), `DELETE FROM t WHERE id = 3; ALTER TABLE t DROP COLUMN gone`, engine.ExecuteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Rollback(context.Background())
	if len(p.Impact) != 1 || p.Impact[0].Deleted != 1 || p.Impact[0].Rewritten != 2 || p.RowsChanged() != 3 {
		t.Fatalf("impact %+v, rows changed %d; want 1 deleted, 2 rewritten, 3 changed", p.Impact, p.RowsChanged())
	}
}
