package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// TestUndoTriggerDDL undoes a session that created one trigger, changed
// rows and dropped another trigger. Undo re-creates the dropped trigger,
// restores the rows with no trigger firing (not even the re-created one),
// and drops the created one; the remaining triggers come back with their
// text and their order of creation (the order SQLite fires them in).
func TestUndoTriggerDDL(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness,
		"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE audit (msg TEXT)",
		"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		"CREATE TRIGGER first AFTER DELETE ON t BEGIN INSERT INTO audit VALUES ('first ' || old.id); END",
		"CREATE TRIGGER \"second; one\" AFTER DELETE ON t BEGIN INSERT INTO audit VALUES ('second ' || old.id); END",
		"CREATE TRIGGER third AFTER INSERT ON t BEGIN INSERT INTO audit VALUES ('third ' || new.id); END",
	)
	triggers := func() []string {
		return enginetest.FirstColumn(t, db, "SELECT name || ': ' || sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY rowid")
	}
	audit := func() []string { return enginetest.FirstColumn(t, db, "SELECT msg FROM audit ORDER BY rowid") }
	origTriggers := triggers()

	enginetest.CommitAll(t, s,
		"CREATE TRIGGER added AFTER UPDATE ON t BEGIN INSERT INTO audit VALUES ('added ' || new.id); END",
		"DELETE FROM t WHERE id = 1",
		"UPDATE t SET v = 'B' WHERE id = 2",
		"DROP TRIGGER third",
	)
	if got, want := audit(), []string{"second 1", "first 1", "added 2"}; !slices.Equal(got, want) {
		t.Fatalf("audit after the session %q, want %q", got, want)
	}
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := audit(); len(got) != 0 {
		t.Errorf("audit after undo %q, want it empty: undo fired a trigger", got)
	}
	if got := triggers(); !slices.Equal(got, origTriggers) {
		t.Errorf("triggers after undo\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(origTriggers, "\n"))
	}
	if got, want := enginetest.FirstColumn(t, db, "SELECT id || v FROM t ORDER BY id"), []string{"1a", "2b", "3c"}; !slices.Equal(got, want) {
		t.Errorf("rows after undo %q, want %q", got, want)
	}
	var noted bool
	for _, n := range rep.Notes {
		noted = noted || strings.Contains(n, "did not fire")
	}
	if !noted {
		t.Errorf("undo notes %q do not say the triggers were suspended", rep.Notes)
	}
	// The triggers work again, in their old order.
	enginetest.ExecAll(t, db, "DELETE FROM t WHERE id = 3")
	if got, want := audit(), []string{"second 3", "first 3"}; !slices.Equal(got, want) {
		t.Errorf("audit of a DELETE after undo %q, want %q", got, want)
	}
}

// TestUndoTempTrigger: a TEMP trigger the session created on a main table
// does not fire during undo either, and exists again afterwards.
func TestUndoTempTrigger(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (msg TEXT)")
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

// TestUndoTriggerOnShadowedTable: a main trigger whose table a TEMP table
// of the session shadows cannot be re-created safely from its text (it
// would attach to the TEMP table); it stays, fires, and the undo says so.
func TestUndoTriggerOnShadowedTable(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (msg TEXT)",
		"CREATE TRIGGER tr AFTER DELETE ON t BEGIN INSERT INTO audit VALUES ('del ' || old.id); END")
	seqs := enginetest.CommitAll(t, s, "CREATE TEMP TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO main.t VALUES (1)")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "triggers on t were left in place") }) {
		t.Errorf("notes %q do not say the trigger fired", rep.Notes)
	}
	if got := enginetest.Joined(t, db, "SELECT name FROM sqlite_schema WHERE type = 'trigger'"); got != "tr" {
		t.Errorf("main triggers after undo %q, want tr", got)
	}
	enginetest.ExecAll(t, db, "INSERT INTO t VALUES (7)", "DELETE FROM t WHERE id = 7")
	if got := enginetest.Joined(t, db, "SELECT msg FROM audit ORDER BY rowid"); got != "del 1,del 7" {
		t.Errorf("audit %q, want the undo's delete and a later one", got)
	}
}

// TestUndoTempTriggerOnShadowedTable: a TEMP trigger written "ON t" for
// the main table t, after which the session created a TEMP table t: re-
// created from its text it would attach to the TEMP table, so it stays.
func TestUndoTempTriggerOnShadowedTable(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (msg TEXT)")
	seqs := enginetest.CommitAll(t, s, "CREATE TEMP TRIGGER tt AFTER DELETE ON t BEGIN INSERT INTO audit VALUES ('del ' || old.id); END",
		"CREATE TEMP TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO main.t VALUES (1)")
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs[2:]})
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "triggers on t were left in place") }) {
		t.Errorf("notes %q do not say the trigger was left in place", rep.Notes)
	}
	enginetest.CommitAll(t, s, "INSERT INTO main.t VALUES (5)", "DELETE FROM main.t WHERE id = 5")
	if got := enginetest.Joined(t, db, "SELECT msg FROM audit ORDER BY rowid"); got != "del 1,del 5" {
		t.Errorf("audit %q, want the undo's delete and the later one: the trigger must stay on main.t", got)
	}
}

// TestUndoTempTriggerElsewhere: TEMP triggers on a table another
// connection dropped, or on a table of a database detached since, never
// fire during undo and cannot be re-created from their text: undo leaves
// them alone instead of failing.
func TestUndoTempTriggerElsewhere(t *testing.T) {
	ctx := context.Background()
	aux := strings.ReplaceAll(filepath.Join(t.TempDir(), "aux.db"), "'", "''")
	s, db := enginetest.SessionOn(t, harness, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "CREATE TABLE u (id INTEGER PRIMARY KEY)")
	enginetest.CommitAll(t, s, "CREATE TEMP TRIGGER tt AFTER INSERT ON main.t BEGIN SELECT 1; END")
	for _, q := range []string{"ATTACH '" + aux + "' AS aux", "CREATE TABLE aux.x (id INTEGER PRIMARY KEY)",
		"CREATE TEMP TRIGGER tx AFTER INSERT ON aux.x BEGIN SELECT 1; END", "DETACH aux"} {
		p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName(), AllowUnguarded: true})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := p.Commit(ctx); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	enginetest.ExecAll(t, db, "DROP TABLE t")
	seqs := enginetest.CommitAll(t, s, "INSERT INTO u VALUES (1)")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs}); !rep.Complete() {
		t.Errorf("undo incomplete: %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT count(*) FROM u"); got != "0" {
		t.Errorf("rows of u after undo %s, want 0", got)
	}
}
