package sqlite_test

import (
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
	s, db := undoSession(t,
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
	execAll(t, db, "DELETE FROM t WHERE id = 3")
	if got, want := audit(), []string{"second 3", "first 3"}; !slices.Equal(got, want) {
		t.Errorf("audit of a DELETE after undo %q, want %q", got, want)
	}
}
