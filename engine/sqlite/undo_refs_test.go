package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// undoSession opens an engine session on a fresh SQLite file after running
// setup on it through a second connection, which it also returns.
func undoSession(t *testing.T, setup ...string) (*engine.Session, *sql.DB) {
	t.Helper()
	target := harness.NewTarget(t)
	db := openDB(t, target)
	execAll(t, db, setup...)
	tg, err := engine.ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	s, err := engine.Open(context.Background(), tg, engine.Options{JournalPath: filepath.Join(t.TempDir(), "j.lifebelt"), Operator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

func execAll(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestUndoReferrersCompareAsTheForeignKey: a child row refers to a parent
// row under the parent column's collation (NOCASE) or type affinity
// (INTEGER against an untyped '3'); undo must see it and keep the parent.
func TestUndoReferrersCompareAsTheForeignKey(t *testing.T) {
	for _, tc := range []struct{ name, parent, child, parentRow, childRow string }{
		{"collation", "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE UNIQUE)",
			"CREATE TABLE c (id INTEGER PRIMARY KEY, pcode TEXT REFERENCES p(code) ON DELETE CASCADE)",
			"INSERT INTO p VALUES (1, 'abc')", "INSERT INTO c VALUES (10, 'ABC')"},
		{"affinity", "CREATE TABLE p (id INTEGER PRIMARY KEY)",
			"CREATE TABLE c (id INTEGER PRIMARY KEY, pid REFERENCES p ON DELETE CASCADE)",
			"INSERT INTO p VALUES (3)", "INSERT INTO c VALUES (10, '3')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, db := undoSession(t, tc.parent, tc.child)
			enginetest.CommitAll(t, s, tc.parentRow)
			execAll(t, db, tc.childRow)
			rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
			if rep.Complete() || len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 row of c refers to it") {
				t.Errorf("conflicts %v, want one for the referred parent", rep.Conflicts)
			}
			if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "1 1" {
				t.Errorf("parent and child rows after undo %q, want both kept", got)
			}
		})
	}
}

// TestUndoOwnChildrenFirst: rows of the undone range that refer to a
// parent the range inserted, written before it (a deferred foreign key,
// a BEFORE trigger, an undo that re-inserted children first), are removed
// with it, whatever the order, with no conflict.
func TestUndoOwnChildrenFirst(t *testing.T) {
	t.Run("deferred", func(t *testing.T) {
		s, db := undoSession(t, "CREATE TABLE p (id INTEGER PRIMARY KEY)",
			"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p DEFERRABLE INITIALLY DEFERRED)")
		enginetest.CommitAll(t, s, "INSERT INTO c VALUES (10, 3); INSERT INTO p VALUES (3)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
			t.Errorf("conflicts %v", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "0 0" {
			t.Errorf("rows after undo %q, want none", got)
		}
	})
	t.Run("before trigger", func(t *testing.T) {
		s, db := undoSession(t, "CREATE TABLE p (id INTEGER PRIMARY KEY)",
			"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)",
			"CREATE TRIGGER bi BEFORE INSERT ON p BEGIN INSERT INTO c VALUES (NEW.id * 10, NEW.id); END")
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES (3)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
			t.Errorf("conflicts %v", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "0 0" {
			t.Errorf("rows after undo %q, want none", got)
		}
	})
	t.Run("undo of an undone cascade", func(t *testing.T) {
		s, db := undoSession(t, "CREATE TABLE p (id INTEGER PRIMARY KEY)",
			"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p ON DELETE CASCADE)",
			"INSERT INTO p VALUES (1), (2)", "INSERT INTO c VALUES (10, 1), (11, 1), (12, 2)")
		enginetest.CommitAll(t, s, "DELETE FROM p WHERE id = 1")
		rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
		if !rep.Complete() {
			t.Fatalf("undo: conflicts %v", rep.Conflicts)
		}
		if rep = enginetest.UndoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}}); !rep.Complete() {
			t.Errorf("undo of the undo: conflicts %v", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT (SELECT group_concat(id) FROM p) || ' ' || (SELECT group_concat(id) FROM c)"); got != "2 12" {
			t.Errorf("rows after undoing the undo %q, want %q", got, "2 12")
		}
	})
}

// TestUndoReferrerOnNewColumn: a foreign key added since refers to a
// column the journal's images do not have; undo still runs, and checks it.
func TestUndoReferrerOnNewColumn(t *testing.T) {
	s, db := undoSession(t, "CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
	enginetest.CommitAll(t, s, "INSERT INTO p VALUES (3, 'a'), (4, 'b')")
	execAll(t, db, "ALTER TABLE p ADD COLUMN code TEXT", "CREATE UNIQUE INDEX p_code ON p(code)", "UPDATE p SET code = 'k' || id, v = v || '!'",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pcode TEXT REFERENCES p(code))", "INSERT INTO c VALUES (1, 'k4')")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "refers to it") {
		t.Errorf("conflicts %v, want one for row 4", rep.Conflicts)
	}
	if rep.Forced != 1 {
		t.Errorf("Forced = %d, want 1 (row 3, changed since and removed; row 4 was kept)", rep.Forced)
	}
	if got := enginetest.Joined(t, db, "SELECT group_concat(id) FROM p"); got != "4" {
		t.Errorf("parent rows after undo %q, want 4", got)
	}
}

// TestUndoTempTrigger: a TEMP trigger the session created on a main table
// does not fire during undo either, and exists again afterwards.
func TestUndoTempTrigger(t *testing.T) {
	s, db := undoSession(t, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (msg TEXT)")
	seqs := enginetest.CommitAll(t, s, "CREATE TEMP TRIGGER tt AFTER DELETE ON main.t BEGIN INSERT INTO audit VALUES ('del ' || old.id); END",
		"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[2:]})
	if !rep.Complete() {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT count(*) FROM audit"); got != "0" {
		t.Errorf("audit rows after undo %s, want 0: the temporary trigger fired", got)
	}
	enginetest.CommitAll(t, s, "DELETE FROM t WHERE id = 1")
	if got := enginetest.Joined(t, db, "SELECT group_concat(msg) FROM audit"); got != "del 1" {
		t.Errorf("audit after a DELETE following undo %q, want %q: the temporary trigger is gone", got, "del 1")
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "triggers on t did not fire") }) {
		t.Errorf("notes %q do not mention the temporary trigger", rep.Notes)
	}
}

// TestUndoKeyHeldByWaitingRow: an INSERT OR REPLACE put a new row in
// place of one that an earlier entry's row refers to. Undoing both at
// once would need the referring row gone before the old row comes back;
// undo stops with nothing changed and says what to undo first, and doing
// that restores everything.
func TestUndoKeyHeldByWaitingRow(t *testing.T) {
	s, db := undoSession(t, "CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)", "INSERT INTO p VALUES (1, 'a')")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO c VALUES (10, 1)", "INSERT OR REPLACE INTO p VALUES (1, 'b')")
	for _, force := range []bool{false, true} {
		_, err := s.Undo(context.Background(), engine.UndoOptions{Force: force})
		if err == nil || !strings.Contains(err.Error(), "undo the entries that added those rows first") {
			t.Fatalf("undo (force %v): %v, want a refusal", force, err)
		}
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT group_concat(id || v) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "1b 1" {
		t.Errorf("rows after the refused undo %q, want them unchanged", got)
	}
	enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[1:]}); !rep.Complete() {
		t.Errorf("conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT group_concat(id || v) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "1a 0" {
		t.Errorf("rows after undoing in order %q, want %q", got, "1a 0")
	}
}

// TestUndoSelfReference: a row another client added that refers to a row
// of its own table keeps that row (SQLite would delete it by cascade); the
// session's own rows that refer to each other, or to themselves, go.
func TestUndoSelfReference(t *testing.T) {
	s, db := undoSession(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES t ON DELETE CASCADE)")
	enginetest.CommitAll(t, s, "INSERT INTO t VALUES (1, NULL)", "INSERT INTO t VALUES (5, 5), (6, 5)")
	execAll(t, db, "INSERT INTO t VALUES (2, 1)")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 row of t refers to it") {
		t.Errorf("conflicts %v, want one for row 1", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id)"); got != "1,2" {
		t.Errorf("rows after undo %q, want 1,2", got)
	}
}

// TestUndoTriggerOnShadowedTable: a main trigger whose table a TEMP table
// of the session shadows cannot be re-created safely from its text (it
// would attach to the TEMP table); it stays, fires, and the undo says so.
func TestUndoTriggerOnShadowedTable(t *testing.T) {
	s, db := undoSession(t, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (msg TEXT)",
		"CREATE TRIGGER tr AFTER DELETE ON t BEGIN INSERT INTO audit VALUES ('del ' || old.id); END")
	seqs := enginetest.CommitAll(t, s, "CREATE TEMP TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO main.t VALUES (1)")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "triggers on t fired") }) {
		t.Errorf("notes %q do not say the trigger fired", rep.Notes)
	}
	if got := enginetest.Joined(t, db, "SELECT name FROM sqlite_schema WHERE type = 'trigger'"); got != "tr" {
		t.Errorf("main triggers after undo %q, want tr", got)
	}
	execAll(t, db, "INSERT INTO t VALUES (7)", "DELETE FROM t WHERE id = 7")
	if got := enginetest.Joined(t, db, "SELECT msg FROM audit ORDER BY rowid"); got != "del 1,del 7" {
		t.Errorf("audit %q, want the undo's delete and a later one", got)
	}
}
