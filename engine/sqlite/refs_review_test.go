package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// sessionQuery runs a read through the session's own connection and
// returns its first column (rolled back afterwards).
func sessionQuery(t *testing.T, s *engine.Session, q string) []string {
	t.Helper()
	ctx := context.Background()
	p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer p.Rollback(ctx)
	var out []string
	for _, r := range p.Statements[0].Rows {
		out = append(out, r[0].String())
	}
	return out
}

// undoErr runs an undo and returns its report and error (nil when it went
// through).
func undoErr(s *engine.Session, opt engine.UndoOptions) (*engine.UndoReport, error) {
	return s.Undo(context.Background(), opt)
}

// TestReviewFKParentColumnCase: REFERENCES p(ID) names the column id in
// another case, which SQLite accepts; undo of any change to p must work.
func TestReviewFKParentColumnCase(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(ID))",
		"INSERT INTO p VALUES (1, 'a')", "INSERT INTO c VALUES (10, 1)")
	enginetest.CommitAll(t, s, "UPDATE p SET v = 'b' WHERE id = 1")
	if _, err := undoErr(s, engine.UndoOptions{}); err != nil {
		t.Fatalf("undo of a plain UPDATE of p failed: %v", err)
	}
	if got := enginetest.Joined(t, db, "SELECT v FROM p"); got != "a" {
		t.Errorf("p.v = %q after undo, want a", got)
	}
}

// TestReviewFKToNullablePrimaryKey: "REFERENCES author" (no column list)
// refers to author's PRIMARY KEY, here a TEXT one (nullable in a rowid
// table, so not the engine's row key). Undo of a change to either table
// must work.
func TestReviewFKToNullablePrimaryKey(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE author (name TEXT PRIMARY KEY, born INT)",
		"CREATE TABLE book (id INTEGER PRIMARY KEY, author REFERENCES author)",
		"INSERT INTO author VALUES ('Ann', 1950)", "INSERT INTO book VALUES (1, 'Ann')")
	enginetest.CommitAll(t, s, "INSERT INTO book VALUES (2, 'Ann')")
	if _, err := undoErr(s, engine.UndoOptions{}); err != nil {
		t.Fatalf("undo of an INSERT into book failed: %v", err)
	}
	if got := enginetest.Joined(t, db, "SELECT id FROM book"); got != "1" {
		t.Errorf("books after undo %q, want 1", got)
	}
}

// TestReviewWrittenThenRemoved: the session inserted a parent and a child
// and later deleted the child (and the parent). Undoing everything puts
// back the original (empty) state, which refers to nothing missing; the
// child row undo re-inserts on the way is deleted again by the same undo.
func TestReviewWrittenThenRemoved(t *testing.T) {
	for name, batches := range map[string][]string{
		"child deleted":       {"INSERT INTO p VALUES (5)", "INSERT INTO c VALUES (50, 5)", "DELETE FROM c WHERE id = 50"},
		"both deleted":        {"INSERT INTO p VALUES (5); INSERT INTO c VALUES (50, 5)", "DELETE FROM c WHERE id = 50; DELETE FROM p WHERE id = 5"},
		"child moved, undone": {"INSERT INTO p VALUES (5), (6)", "INSERT INTO c VALUES (50, 5)", "UPDATE c SET pid = 6"},
	} {
		t.Run(name, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness,
				"CREATE TABLE p (id INTEGER PRIMARY KEY)",
				"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)")
			enginetest.CommitAll(t, s, batches...)
			if _, err := undoErr(s, engine.UndoOptions{}); err != nil {
				t.Fatalf("undo of the whole session failed: %v", err)
			}
			if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || '/' || (SELECT count(*) FROM c)"); got != "0/0" {
				t.Errorf("rows after undo %s, want 0/0", got)
			}
		})
	}
}

// TestReviewReplaceDeletesReferencedRow: re-inserting a deleted parent
// row makes SQLite delete another parent row through a UNIQUE ... ON
// CONFLICT REPLACE constraint. With foreign keys off, nothing stops the
// children of that row from being left referring to nothing; the undo
// must be refused.
func TestReviewReplaceDeletesReferencedRow(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT REPLACE)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))",
		"INSERT INTO p VALUES (1, 'A')")
	enginetest.CommitAll(t, s, "DELETE FROM p WHERE id = 1")
	enginetest.ExecAll(t, db, "INSERT INTO p VALUES (2, 'A')", "INSERT INTO c VALUES (20, 2)")
	// Putting (1, 'A') back collides with (2, 'A') on code: undo must fail
	// on that, not make room by deleting (2, 'A') as REPLACE would.
	if _, err := undoErr(s, engine.UndoOptions{}); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed: p.code") {
		t.Errorf("undo returned %v, want it to fail on the UNIQUE constraint", err)
	}
	if got := enginetest.Joined(t, db, "SELECT id || code FROM p"); got != "2A" {
		t.Errorf("p after the failed undo %s, want 2A", got)
	}
	if v := enginetest.FirstColumn(t, db, "SELECT \"table\" || ' rowid ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check"); len(v) > 0 {
		t.Errorf("after undo, foreign_key_check reports %q; p = %q", v, enginetest.Joined(t, db, "SELECT id || code FROM p"))
	}
}

// TestReviewTempTableNameClash: a TEMP table of the session named
// lifebelt_undo_refs is the user's; undo must not drop it.
func TestReviewTempTableNameClash(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)")
	enginetest.CommitAll(t, s, "CREATE TEMP TABLE lifebelt_undo_refs (note TEXT); INSERT INTO lifebelt_undo_refs VALUES ('mine')")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs}); !rep.Complete() {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
	ctx := context.Background()
	p, err := s.Execute(ctx, "SELECT note FROM temp.lifebelt_undo_refs", engine.ExecuteOptions{})
	if err != nil {
		t.Fatalf("the session's TEMP table lifebelt_undo_refs is gone after undo: %v", err)
	}
	p.Rollback(ctx)
}

// TestReviewParentTableGone: the child row undo puts back refers to a
// table that another client has dropped since. SQLite (foreign_keys on)
// refuses such a row; undo must refuse it too.
func TestReviewParentTableGone(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))",
		"INSERT INTO p VALUES (1)", "INSERT INTO c VALUES (10, 1)")
	enginetest.CommitAll(t, s, "DELETE FROM c WHERE id = 10")
	enginetest.ExecAll(t, db, "DELETE FROM p", "DROP TABLE p")
	if _, err := db.Exec("INSERT INTO c VALUES (11, 1)"); err == nil {
		t.Fatal("SQLite itself accepted a child row whose parent table is gone")
	} else {
		t.Logf("SQLite with foreign_keys on: %v", err)
	}
	_, err := undoErr(s, engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Errorf("undo returned %v, want a *engine.ReferenceError; c = %q", err, enginetest.Joined(t, db, "SELECT id || '->' || pid FROM c"))
	}
}

var _ = strings.Contains

// TestReviewKeylessChildOrphanUnchanged: a pre-existing orphan in a table
// without a key; the session changed a column that is not the foreign
// key. Undo sets that column back (for a keyless table by deleting and
// re-inserting the row) and leaves the foreign key as it was: the orphan
// is not the undo's doing, so the undo must go through, as it does for a
// keyed table.
func TestReviewKeylessChildOrphanUnchanged(t *testing.T) {
	for _, tc := range []struct{ name, ddl string }{
		{"keyed", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id), note TEXT)"},
		{"keyless", "CREATE TABLE c (id INTEGER, pid INTEGER REFERENCES p(id), note TEXT)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness, "CREATE TABLE p (id INTEGER PRIMARY KEY)", tc.ddl,
				"PRAGMA foreign_keys = OFF", "INSERT INTO c VALUES (1, 99, 'old')", "PRAGMA foreign_keys = ON")
			enginetest.CommitAll(t, s, "UPDATE c SET note = 'new' WHERE id = 1")
			if _, err := undoErr(s, engine.UndoOptions{}); err != nil {
				t.Fatalf("undo failed: %v", err)
			}
			if got := enginetest.Joined(t, db, "SELECT note FROM c"); got != "old" {
				t.Errorf("note %q after undo, want old", got)
			}
		})
	}
}

// TestReviewParentDroppedByUndoAffinity: the undo removes the parent's
// rows and then the parent table itself (undo of its CREATE TABLE);
// another client's child row refers to a removed row with a text value,
// which SQLite matches to the INTEGER PRIMARY KEY 1. Undo must be refused.
func TestReviewParentDroppedByUndoAffinity(t *testing.T) {
	for _, v := range []string{"1", "'1'"} {
		t.Run(v, func(t *testing.T) {
			s, db := enginetest.SessionOn(t, harness)
			enginetest.CommitAll(t, s, "CREATE TABLE p (id INTEGER PRIMARY KEY)", "INSERT INTO p VALUES (1)")
			enginetest.ExecAll(t, db, "CREATE TABLE c (x, pid REFERENCES p(id))", "INSERT INTO c VALUES (0, "+v+")")
			_, err := undoErr(s, engine.UndoOptions{})
			var re *engine.ReferenceError
			if !errors.As(err, &re) {
				t.Errorf("undo returned %v, want a *engine.ReferenceError; c.pid is %s", err,
					enginetest.Joined(t, db, "SELECT typeof(pid) || ' ' || pid FROM c"))
			}
		})
	}
}

// TestReviewUniqueIndexCollation: the parent key has two unique indexes,
// BINARY (the column's own collation, which SQLite's foreign-key lookup
// uses) and NOCASE. A pre-existing orphan 'a' must not make an undo that
// removes the parent 'A' (which nothing refers to) fail.
func TestReviewUniqueIndexCollation(t *testing.T) {
	for _, order := range [][2]string{{"p_bin", "p_nocase"}, {"p_nocase", "p_bin"}} {
		t.Run(order[0]+"_first", func(t *testing.T) {
			idx := map[string]string{"p_bin": "CREATE UNIQUE INDEX p_bin ON p(code)", "p_nocase": "CREATE UNIQUE INDEX p_nocase ON p(code COLLATE NOCASE)"}
			s, _ := enginetest.SessionOn(t, harness,
				"CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT)", idx[order[0]], idx[order[1]],
				"CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p(code))",
				"PRAGMA foreign_keys = OFF", "INSERT INTO c VALUES (1, 'a')", "PRAGMA foreign_keys = ON")
			enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1, 'A')")
			if _, err := undoErr(s, engine.UndoOptions{}); err != nil {
				t.Errorf("undo failed: %v", err)
			}
		})
	}
}

// BenchmarkUndoReferenceCheck undoes the INSERT of one parent row whose
// table another refers to, with 10 and with 1,000,000 rows in the
// referring table (indexed on its foreign key): the reference check must
// find the referring rows through that index, not read them all. Compare
// the two: the bare case is the small table.
func BenchmarkUndoReferenceCheck(b *testing.B) {
	for _, children := range []int{10, 1_000_000} {
		b.Run(fmt.Sprintf("children=%d", children), func(b *testing.B) {
			target := harness.NewTarget(b)
			db := harness.Open(b, target)
			enginetest.ExecAll(b, db,
				"CREATE TABLE p (id INTEGER PRIMARY KEY)",
				"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)",
				"CREATE INDEX c_pid ON c(pid)",
				"INSERT INTO p VALUES (1)",
				fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) INSERT INTO c SELECT i, 1 FROM n", children))
			tg, err := engine.ParseTarget(target)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			s, err := engine.Open(ctx, tg, engine.Options{JournalPath: filepath.Join(b.TempDir(), "j.lifebelt")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				seqs := enginetest.CommitAll(b, s, "INSERT INTO p VALUES (2)")
				b.StartTimer()
				rep, err := s.Undo(ctx, engine.UndoOptions{Entries: seqs})
				if err != nil || !rep.Complete() {
					b.Fatalf("undo: %+v %v", rep, err)
				}
			}
		})
	}
}

// TestReviewForeignKeysBackOn: after every way an undo can end, the
// session's connection enforces foreign keys again.
func TestReviewForeignKeysBackOn(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p ON DELETE CASCADE)",
		"CREATE TABLE u (id INTEGER PRIMARY KEY, code TEXT)", "INSERT INTO u VALUES (1, 'x')")
	check := func(when string) {
		t.Helper()
		if got := strings.Join(sessionQuery(t, s, "PRAGMA foreign_keys"), ","); got != "1" {
			t.Errorf("foreign_keys = %s %s", got, when)
		}
	}
	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
	enginetest.ExecAll(t, db, "INSERT INTO c VALUES (10, 1)")
	if _, err := undoErr(s, engine.UndoOptions{Entries: seqs, DryRun: true}); err == nil {
		t.Error("dry run not refused")
	}
	check("after a refused dry run")
	if _, err := undoErr(s, engine.UndoOptions{Entries: seqs}); err == nil {
		t.Error("undo not refused")
	}
	check("after a refused undo")
	seqs2 := enginetest.CommitAll(t, s, "DELETE FROM u WHERE id = 1")
	enginetest.ExecAll(t, db, "INSERT INTO u VALUES (2, 'x')", "CREATE UNIQUE INDEX u_code ON u(code)")
	if _, err := undoErr(s, engine.UndoOptions{Entries: seqs2}); err == nil {
		t.Error("undo re-inserting a duplicate code did not fail")
	} else {
		t.Logf("failed undo: %v", err)
	}
	check("after a failed undo")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Undo(ctx, engine.UndoOptions{Entries: seqs}); err == nil {
		t.Error("cancelled undo went through")
	}
	check("after a cancelled undo")
	enginetest.ExecAll(t, db, "DELETE FROM c")
	enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs})
	check("after an undo")
}

// TestReviewUndoCommitBusy: another connection reads (rollback journal)
// while the undo commits, so COMMIT reports busy. The undo says nothing
// was changed; afterwards the session must work again, with foreign keys
// enforced, and other connections must be able to write.
func TestReviewUndoCommitBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the busy timeout")
	}
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
	reader := harness.Open(t, "sqlite:"+s.Target().Path)
	rtx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRow("SELECT count(*) FROM p").Scan(&n); err != nil {
		t.Fatal(err)
	}
	_, uerr := undoErr(s, engine.UndoOptions{Entries: seqs})
	t.Logf("undo: %v", uerr)
	rtx.Rollback()
	if uerr == nil {
		t.Skip("COMMIT was not busy")
	}
	if _, err := db.Exec("INSERT INTO p VALUES (3)"); err != nil {
		t.Errorf("another connection cannot write after the failed undo: %v", err)
	}
	ctx := context.Background()
	p, err := s.Execute(ctx, "INSERT INTO p VALUES (2)", engine.ExecuteOptions{})
	if err != nil {
		t.Fatalf("the session cannot run anything after the failed undo: %v", err)
	}
	p.Rollback(ctx)
	if got := strings.Join(sessionQuery(t, s, "PRAGMA foreign_keys"), ","); got != "1" {
		t.Errorf("foreign_keys = %s", got)
	}
}

// TestReviewRecreatedTableForeignKeys: the session dropped c (whose rows
// refer to p) and created another table c without a foreign key. After
// that another client deleted the parent row the old c referred to.
// Undoing the session re-creates the old c with its rows, which then
// refer to nothing: the undo must be refused. The engine caches the
// foreign keys of "main.c" by name from the newer table.
func TestReviewRecreatedTableForeignKeys(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE p (id INTEGER PRIMARY KEY)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)",
		"INSERT INTO p VALUES (5)", "INSERT INTO c VALUES (10, 5)")
	enginetest.CommitAll(t, s, "DROP TABLE c", "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER)", "INSERT INTO c VALUES (1, 1)")
	enginetest.ExecAll(t, db, "DELETE FROM p WHERE id = 5")
	rep, err := undoErr(s, engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Errorf("undo returned %+v, %v; want a *engine.ReferenceError; violations now %q", rep, err,
			enginetest.FirstColumn(t, db, "SELECT \"table\" || ' rowid ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check"))
	}
}
