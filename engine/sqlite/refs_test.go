package sqlite_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// refused runs an undo that must be refused for references, and returns
// the child values it reported (as "child:values").
func refused(t *testing.T, s *engine.Session, opt engine.UndoOptions) []string {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Fatalf("undo = %+v, %v; want it refused for rows left referring to nothing", rep, err)
	}
	var out []string
	for _, d := range re.Dangling {
		out = append(out, d.FK.Child.Name+":"+engine.FormatRow(d.Values))
	}
	slices.Sort(out)
	return out
}

// foreignKeysOn asks the session's own connection whether foreign keys
// are enforced.
func foreignKeysOn(t *testing.T, s *engine.Session) bool {
	t.Helper()
	ctx := context.Background()
	p, err := s.Execute(ctx, "PRAGMA foreign_keys", engine.ExecuteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := p.Statements[0].Result
	if err := p.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	return len(res.Rows) == 1 && res.Rows[0][0].String() == "1"
}

// TestUndoReferencesCompareAsSQLite: the reference check finds a child by
// SQLite's own foreign-key comparison, the parent column's collation
// (NOCASE here, the child's is BINARY) and affinity (a TEXT key, an
// INTEGER child value), over a composite key of a WITHOUT ROWID table
// too; a NULL in a composite foreign key refers to nothing.
func TestUndoReferencesCompareAsSQLite(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (k TEXT COLLATE NOCASE PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, f TEXT REFERENCES p)",
		"CREATE TABLE tp (k TEXT PRIMARY KEY)",
		"CREATE TABLE tc (id INTEGER PRIMARY KEY, f INTEGER REFERENCES tp (k))",
		"CREATE TABLE wp (a INTEGER, b TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID",
		"CREATE TABLE wc (x INTEGER, y TEXT, z INTEGER, PRIMARY KEY (x, z), FOREIGN KEY (x, y) REFERENCES wp (a, b)) WITHOUT ROWID",
	)
	enginetest.CommitAll(t, s, "INSERT INTO p VALUES ('Abc')", "INSERT INTO tp VALUES ('7')", "INSERT INTO wp VALUES (1, 'one'), (2, 'two')")
	enginetest.ExecAll(t, db, "INSERT INTO c VALUES (1, 'aBC')", "INSERT INTO tc VALUES (1, 7)",
		"INSERT INTO wc VALUES (1, 'one', 1), (1, 'one', 2), (2, NULL, 3)")
	if got, want := refused(t, s, engine.UndoOptions{}), []string{`c:("aBC")`, `tc:(7)`, `wc:(1, "one")`}; !slices.Equal(got, want) {
		t.Errorf("refused for %q, want %q", got, want)
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || (SELECT count(*) FROM tp) || (SELECT count(*) FROM wp) || (SELECT count(*) FROM wc)"); got != "1123" {
		t.Errorf("row counts after the refused undo %s, want 1123", got)
	}
	if !foreignKeysOn(t, s) {
		t.Fatal("foreign keys are off on the session's connection after a refused undo")
	}
	enginetest.ExecAll(t, db, "DELETE FROM c", "DELETE FROM tc", "DELETE FROM wc WHERE x = 1")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || (SELECT count(*) FROM tp) || (SELECT count(*) FROM wp) || (SELECT count(*) FROM wc)"); got != "0001" {
		t.Errorf("row counts after undo %s, want 0001", got)
	}
	if !foreignKeysOn(t, s) {
		t.Fatal("foreign keys are off on the session's connection after undo")
	}
}

// TestUndoIgnoresOldOrphans: rows that referred to nothing before the
// undo (written while foreign keys were off) do not stop an undo that
// does not touch them, and a TEMP table of the session with the check's
// own table name is left alone.
func TestUndoIgnoresOldOrphans(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p ON DELETE CASCADE)",
		"CREATE TABLE tp (k TEXT PRIMARY KEY)",
		"CREATE TABLE tc (id INTEGER PRIMARY KEY, f INTEGER REFERENCES tp)",
		"INSERT INTO p VALUES (1)",
		"PRAGMA foreign_keys = OFF",
		"INSERT INTO c VALUES (10, 99), (11, 1)",
		// 7 does not refer to '07' for SQLite (the TEXT affinity of the
		// parent key makes it '7'), though 7 = '07' in a comparison.
		"INSERT INTO tc VALUES (1, 7)",
	)
	if got := enginetest.Joined(t, db, "SELECT \"table\" || rowid FROM pragma_foreign_key_check ORDER BY 1"); got != "c10,tc1" {
		t.Fatalf("SQLite reports %s as referring to nothing, want c10,tc1", got)
	}
	enginetest.CommitAll(t, s, "CREATE TEMP TABLE lifebelt_undo_refs (mine TEXT)", "INSERT INTO temp.lifebelt_undo_refs VALUES ('kept')")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (2)", "DELETE FROM c WHERE id = 11", "INSERT INTO tp VALUES ('07')")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs})
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT id || ':' || pid FROM c ORDER BY id"); got != "10:99,11:1" {
		t.Errorf("children after undo %s", got)
	}
	ctx := context.Background()
	p, err := s.Execute(ctx, "SELECT mine FROM temp.lifebelt_undo_refs", engine.ExecuteOptions{})
	if err != nil {
		t.Fatalf("the session's own TEMP table is gone: %v", err)
	}
	res := p.Statements[0].Result
	p.Rollback(ctx)
	if len(res.Rows) != 1 || res.Rows[0][0].S != "kept" {
		t.Errorf("the session's own TEMP table holds %v", res.Rows)
	}
}
