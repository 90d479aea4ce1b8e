package enginetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/journal"
)

// undoComplete undoes and fails the test unless nothing was left behind;
// what names the undo in the failure.
func (e *env) undoComplete(opt engine.UndoOptions, what string) *engine.UndoReport {
	e.t.Helper()
	rep := e.undo(opt)
	if !rep.Complete() {
		e.t.Fatalf("%s: conflicts %v, skipped %v", what, rep.Conflicts, rep.Skipped)
	}
	return rep
}

// testUndoAlter: added columns, renamed columns and renamed tables are
// undone (newest first, after the rows a later entry wrote into the new
// column), and the undo can itself be undone, and that undo too.
func testUndoAlter(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("alt", "id", "v", "n", "extra", "w")
	t2 := nm.tbl("alt2", "id", "v", "n", "extra", "w")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text NOT NULL DEFAULT 'x', {n} integer)"))
	e.exec(tb.sql("CREATE INDEX " + quote(nm.table("alt_n")) + " ON {t} ({n})"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', NULL), (3, 'it''s', 30)"))
	cat0, rows0 := e.catalog(tb), e.dump(tb)

	CommitAll(t, e.s,
		tb.sql("ALTER TABLE {t} ADD COLUMN {extra} integer DEFAULT 7"),
		tb.sql("ALTER TABLE {t} RENAME COLUMN {v} TO {w}"),
		tb.sql("ALTER TABLE {t} RENAME TO ")+quote(t2.name),
		t2.sql("UPDATE {t} SET {extra} = 8 WHERE {id} = 1"))
	if c := e.catalog(tb); len(c) != 0 {
		t.Fatalf("the table still has its old name after RENAME TO: %v", c)
	}
	cat1, rows1 := e.catalog(t2), e.dump(t2)
	if len(cat1) == 0 || len(rows1) != 3 {
		t.Fatalf("after the ALTERs: catalog %v, rows %v", cat1, rows1)
	}

	rep := e.undoComplete(engine.UndoOptions{}, "undo incomplete")
	equal(t, "definition after undoing the ALTERs", e.catalog(tb), cat0)
	equal(t, "rows after undoing the ALTERs", e.dump(tb), rows0)
	if c := e.catalog(t2); len(c) != 0 {
		t.Errorf("the renamed table is still there after undo: %v", c)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "does not have exactly the definition") {
			t.Errorf("undo notes a definition it did not restore exactly: %s", n)
		}
	}

	// Undoing the undo re-applies every change; undoing that undo
	// reverts them again.
	rep2 := e.undoComplete(engine.UndoOptions{Entries: []int64{rep.Seq}}, "undoing the undo is incomplete")
	equal(t, "definition after undoing the undo", e.catalog(t2), cat1)
	equal(t, "rows after undoing the undo", e.dump(t2), rows1)
	e.undoComplete(engine.UndoOptions{Entries: []int64{rep2.Seq}}, "undoing the undo of the undo is incomplete")
	equal(t, "definition after undoing three times", e.catalog(tb), cat0)
	equal(t, "rows after undoing three times", e.dump(tb), rows0)
}

// testUndoAlterConflicts: an ALTER is not undone when the table changed
// since (another definition), or when dropping an added column would lose
// values someone else wrote into it; Force drops it anyway.
func testUndoAlterConflicts(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("altc", "id", "v", "extra", "w")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a'), (2, 'b')"))
	cat0, rows0 := e.catalog(tb), e.dump(tb)

	seqs := CommitAll(t, e.s, tb.sql("ALTER TABLE {t} ADD COLUMN {extra} integer"))
	e.exec(tb.sql("UPDATE {t} SET {extra} = 5 WHERE {id} = 1")) // someone else
	cat1 := e.catalog(tb)
	rep := e.undo(engine.UndoOptions{Entries: seqs, DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 row(s)") || !strings.Contains(rep.Conflicts[0].Reason, "dropping the column would lose them") {
		t.Fatalf("undo of ADD COLUMN with a value written since: conflicts %+v, want one about 1 row", rep.Conflicts)
	}
	equal(t, "definition after the refused undo", e.catalog(tb), cat1)
	rep = e.undo(engine.UndoOptions{Entries: seqs, Force: true})
	if len(rep.Conflicts) != 0 || rep.Forced != 1 {
		t.Fatalf("forced undo of ADD COLUMN: conflicts %+v, forced %d, want none and 1", rep.Conflicts, rep.Forced)
	}
	equal(t, "definition after the forced undo", e.catalog(tb), cat0)
	equal(t, "rows after the forced undo", e.dump(tb), rows0)

	// A definition changed since, by someone else: not undone, even forced.
	seqs = CommitAll(t, e.s, tb.sql("ALTER TABLE {t} RENAME COLUMN {v} TO {w}"))
	e.exec(tb.sql("CREATE INDEX " + quote(nm.table("altc_w")) + " ON {t} ({w})"))
	cat2 := e.catalog(tb)
	for _, force := range []bool{false, true} {
		rep = e.undo(engine.UndoOptions{Entries: seqs, Force: force, DryRun: true})
		if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "definition changed") {
			t.Fatalf("undo (force %v) of a rename on a table changed since: conflicts %+v, want one about its definition", force, rep.Conflicts)
		}
		equal(t, "definition after the refused undo of the rename", e.catalog(tb), cat2)
	}
	// Once the other change is gone, the rename is undone.
	e.exec("DROP INDEX " + quote(nm.table("altc_w")))
	rep = e.undoComplete(engine.UndoOptions{Entries: seqs}, "undo of the rename")
	equal(t, "definition after undoing the rename", e.catalog(tb), cat0)
}

// testUndoAlterInterleaved: row changes before, between and after ALTERs
// of their table. Undo runs each revert at its point among the rows, and
// undoing that undo does too (an undo entry records where its reverts ran).
func testUndoAlterInterleaved(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("alti", "id", "v", "w", "extra")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
	cat0, rows0 := e.catalog(tb), e.dump(tb)
	CommitAll(t, e.s,
		tb.sql("UPDATE {t} SET {v} = 'u' WHERE {id} = 1"),
		tb.sql("ALTER TABLE {t} RENAME COLUMN {v} TO {w}"),
		tb.sql("UPDATE {t} SET {w} = 'z' WHERE {id} = 2; DELETE FROM {t} WHERE {id} = 3"),
		tb.sql("ALTER TABLE {t} ADD COLUMN {extra} integer"),
		tb.sql("UPDATE {t} SET {extra} = 1 WHERE {id} = 1; INSERT INTO {t} VALUES (4, 'd', 4)"))
	cat1, rows1 := e.catalog(tb), e.dump(tb)

	rep := e.undoComplete(engine.UndoOptions{}, "undo incomplete")
	equal(t, "definition after undo", e.catalog(tb), cat0)
	equal(t, "rows after undo", e.dump(tb), rows0)
	rep2 := e.undoComplete(engine.UndoOptions{Entries: []int64{rep.Seq}}, "undoing the undo is incomplete")
	equal(t, "definition after undoing the undo", e.catalog(tb), cat1)
	equal(t, "rows after undoing the undo", e.dump(tb), rows1)
	e.undoComplete(engine.UndoOptions{Entries: []int64{rep2.Seq}}, "third undo incomplete")
	equal(t, "definition after the third undo", e.catalog(tb), cat0)
	equal(t, "rows after the third undo", e.dump(tb), rows0)
}

// testUndoAlterRenameWithReferences: rows undone in a table that a later
// revert renames, with foreign keys to and from it; the reference check
// at the end looks at the tables under their names by then.
func testUndoAlterRenameWithReferences(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	p := nm.tbl("par", "id")
	p2 := nm.tbl("par2", "id")
	c := nm.tbl("chi", "id", "pid", "ppid")
	e.exec(p.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY)"))
	e.exec(c.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(p.name) + ")")
	e.exec(p.sql("INSERT INTO {t} VALUES (1), (2)"))
	e.exec(c.sql("INSERT INTO {t} VALUES (1, 1)"))
	rows0, crows0 := e.dump(p), e.dump(c)
	CommitAll(t, e.s,
		p.sql("ALTER TABLE {t} RENAME TO ")+quote(p2.name),
		p2.sql("INSERT INTO {t} VALUES (3)"),
		c.sql("INSERT INTO {t} VALUES (2, 3)"),
		p2.sql("DELETE FROM {t} WHERE {id} = 2"),
		c.sql("ALTER TABLE {t} RENAME COLUMN {pid} TO {ppid}"),
		c.sql("DELETE FROM {t} WHERE {id} = 1"))
	rep := e.undoComplete(engine.UndoOptions{}, "undo incomplete")
	equal(t, "parent rows after undo", e.dump(p), rows0)
	equal(t, "child rows after undo", e.dump(c), crows0)
	// The undo of the undo puts the child row back only with its parent.
	e.undoComplete(engine.UndoOptions{Entries: []int64{rep.Seq}}, "undoing the undo")
	if got := e.dump(c); len(got) != 1 {
		t.Errorf("child rows after undoing the undo: %v", got)
	}
}

// testUndoAlterRenameStillChecksReferences: a child row undo puts back,
// whose parent someone deleted since, is an orphan even when a later
// revert renames the child's table and key column: the reference check
// looks under the names they have at the end.
func testUndoAlterRenameStillChecksReferences(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent, cascade, _ := refTables(e)
	c2 := nm.tbl("rcascade2", "id", "pid", "ppid")
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1'), (2, 'p2')"))
	e.exec(cascade.sql("INSERT INTO {t} VALUES (10, 1), (11, 2)"))
	CommitAll(t, e.s,
		c2.sql("ALTER TABLE "+quote(cascade.name)+" RENAME COLUMN {pid} TO {ppid}"),
		cascade.sql("ALTER TABLE {t} RENAME TO ")+quote(c2.name),
		c2.sql("DELETE FROM {t} WHERE {id} = 10"))
	e.exec(parent.sql("DELETE FROM {t} WHERE {id} = 1"))
	before := e.dump(c2)
	equal(t, "what undo refused for", danglingStrings(e.undoRefused(engine.UndoOptions{})), []string{cascade.name + " (1) restored"})
	equal(t, "child rows after the refused undo", e.dump(c2), before)
}

// testUndoForcedDropImagesRows: a forced undo of CREATE TABLE drops the
// table others filled since, after imaging its rows; undoing that undo
// brings the table back with them.
func testUndoForcedDropImagesRows(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("made", "id", "v")
	CommitAll(t, e.s, tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'theirs'), (2, NULL)")) // someone else
	rows := e.dump(tb)
	if rep := e.undo(engine.UndoOptions{DryRun: true}); len(rep.Conflicts) != 1 {
		t.Fatalf("undo of CREATE TABLE of a filled table: conflicts %v, want one", rep.Conflicts)
	}
	rep := e.undo(engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 || rep.Forced != 1 {
		t.Fatalf("forced undo: conflicts %v, forced %d", rep.Conflicts, rep.Forced)
	}
	if c := e.catalog(tb); len(c) != 0 {
		t.Fatalf("the table is still there after the forced undo: %v", c)
	}
	if rep2 := e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}}); !rep2.Complete() {
		t.Fatalf("undoing the forced undo: conflicts %v, skipped %v", rep2.Conflicts, rep2.Skipped)
	}
	equal(t, "rows after undoing the forced undo", e.dump(tb), rows)
}

// testUndoAlterLeftInPlace: rows recorded before an ALTER that dropped or
// renamed a column, and that stays in place (not undone automatically,
// or not part of the undo), are conflicts naming that entry, not a failed
// undo; other tables' rows are undone around them, and once the ALTER is
// gone (undone) they go back.
func testUndoAlterLeftInPlace(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("alp", "id", "a", "b", "c")
	other := nm.tbl("alq", "id", "a")
	// Without a key: its rows cannot be matched, so DROP COLUMN is not
	// undone automatically.
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer, {a} text, {b} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'b', 'b'), (2, 'x', 'y')"))
	e.exec(other.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {a} text)"))
	e.exec(other.sql("INSERT INTO {t} VALUES (1, 'o')"))
	seqs := CommitAll(t, e.s,
		tb.sql("UPDATE {t} SET {a} = 'changed' WHERE {id} = 1"),
		other.sql("UPDATE {t} SET {a} = 'changed'"),
		tb.sql("ALTER TABLE {t} DROP COLUMN {b}"))
	for _, opt := range []engine.UndoOptions{{DryRun: true}, {Entries: seqs[:1], DryRun: true}} {
		rep := e.undo(opt)
		if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer has column(s) "+tb.cols["b"]) {
			t.Fatalf("undo %v with a dropped column left in place: conflicts %+v, want one naming the column", opt.Entries, rep.Conflicts)
		}
	}
	rows := e.dump(tb)
	rep := e.undo(engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || len(rep.Entries) != 1 || rep.Entries[0] != seqs[1] {
		t.Fatalf("undo: entries %v, conflicts %+v; want only the other table's entry undone", rep.Entries, rep.Conflicts)
	}
	equal(t, "rows of the table whose column was dropped", e.dump(tb), rows)

	// A rename not part of the undo: the older entry's rows wait for it.
	t2 := nm.tbl("alr", "id", "a", "c")
	e.exec(t2.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {a} text)"))
	e.exec(t2.sql("INSERT INTO {t} VALUES (1, 'a')"))
	rows2 := e.dump(t2)
	seqs = CommitAll(t, e.s, t2.sql("UPDATE {t} SET {a} = 'b'"), t2.sql("ALTER TABLE {t} RENAME COLUMN {a} TO {c}"))
	rep = e.undo(engine.UndoOptions{Entries: seqs[:1]})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer has column(s) "+t2.cols["a"]) || len(rep.Entries) != 0 {
		t.Fatalf("undo of the UPDATE before a rename: entries %v, conflicts %+v", rep.Entries, rep.Conflicts)
	}
	e.undoComplete(engine.UndoOptions{Entries: seqs[1:]}, "undo of the rename")
	e.undoComplete(engine.UndoOptions{Entries: seqs[:1]}, "undo of the UPDATE once the rename is undone")
	equal(t, "rows after both undos", e.dump(t2), rows2)
}

// testUndoPartlyThenAgain: an undo that leaves a row in conflict undoes
// the rest and marks the entry "partly undone"; undoing it again, once
// the conflict is resolved, puts that row back too (the rows already back
// are left alone) and marks it undone; a forced retry overwrites instead.
func testUndoPartlyThenAgain(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("part", "id", "v")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
	rows0 := e.dump(tb)
	seqs := CommitAll(t, e.s, tb.sql("UPDATE {t} SET {v} = 'x'"), tb.sql("DELETE FROM {t} WHERE {id} = 3"))
	e.exec(tb.sql("UPDATE {t} SET {v} = 'theirs' WHERE {id} = 2"))
	state := func(seq int64) string { return State(t, e.s, seq) }
	rep := e.undo(engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || len(rep.Partial) != 1 || rep.Partial[0] != seqs[0] || len(rep.Entries) != 2 {
		t.Fatalf("first undo: entries %v, partial %v, conflicts %+v", rep.Entries, rep.Partial, rep.Conflicts)
	}
	if state(seqs[0]) != journal.StatePartlyUndone || state(seqs[1]) != journal.StateUndone {
		t.Fatalf("states after the first undo: %q, %q", state(seqs[0]), state(seqs[1]))
	}
	// Still conflicting: undoing again changes nothing and keeps the state.
	rep = e.undo(engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || len(rep.Entries) != 0 || state(seqs[0]) != journal.StatePartlyUndone {
		t.Fatalf("second undo, conflict unresolved: entries %v, conflicts %+v, state %q", rep.Entries, rep.Conflicts, state(seqs[0]))
	}
	// The DBA resolves it: the row holds what the entry left again.
	e.exec(tb.sql("UPDATE {t} SET {v} = 'x' WHERE {id} = 2"))
	rep = e.undoComplete(engine.UndoOptions{}, "undo once the conflict is resolved")
	if len(rep.Entries) != 1 || rep.Entries[0] != seqs[0] || rep.Rows != 1 {
		t.Fatalf("undo once resolved: entries %v, rows %d; want the entry, and only row 2 written", rep.Entries, rep.Rows)
	}
	equal(t, "rows after the undo is complete", e.dump(tb), rows0)
	if state(seqs[0]) != journal.StateUndone {
		t.Fatalf("state after the complete undo: %q", state(seqs[0]))
	}

	// Forced, without resolving.
	t2 := nm.tbl("part2", "id", "v")
	e.exec(t2.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(t2.sql("INSERT INTO {t} VALUES (1, 'a'), (2, 'b')"))
	rows1 := e.dump(t2)
	seqs = CommitAll(t, e.s, t2.sql("UPDATE {t} SET {v} = 'x'"))
	e.exec(t2.sql("UPDATE {t} SET {v} = 'theirs' WHERE {id} = 2"))
	if rep = e.undo(engine.UndoOptions{Entries: seqs}); len(rep.Partial) != 1 {
		t.Fatalf("undo: partial %v, conflicts %+v", rep.Partial, rep.Conflicts)
	}
	rep = e.undo(engine.UndoOptions{Entries: seqs, Force: true})
	if len(rep.Conflicts) != 0 || rep.Forced != 1 || rep.Rows != 1 {
		t.Fatalf("forced retry: conflicts %+v, forced %d, rows %d", rep.Conflicts, rep.Forced, rep.Rows)
	}
	equal(t, "rows after the forced retry", e.dump(t2), rows1)
}

// testUndoDropColumn: DROP COLUMN is undone with every row's value back,
// matched by key; a row added since gets the column's default, a row
// deleted since stays deleted; the definition is exactly the one before
// (the column was the last one, so it comes back in its place). Undoing
// the undo drops it again, imaging the values first, and undoing that
// brings back the values it held then.
func testUndoDropColumn(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("dcl", "id", "a", "b")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {a} text, {b} text NOT NULL DEFAULT 'dflt')"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'x', 'one'), (2, 'y', ''), (3, NULL, 'three')"))
	seqs := CommitAll(t, e.s, tb.sql("UPDATE {t} SET {b} = 'changed' WHERE {id} = 1"))
	rows, cat := e.dump(tb), e.catalog(tb)
	seqs = append(seqs, CommitAll(t, e.s, tb.sql("ALTER TABLE {t} DROP COLUMN {b}"))...)
	dropped := e.catalog(tb)
	e.exec(tb.sql("INSERT INTO {t} ({id}, {a}) VALUES (4, 'since')"))
	e.exec(tb.sql("DELETE FROM {t} WHERE {id} = 3"))

	// Row 3's value cannot go back: a conflict, and nothing changes;
	// with force, the rest comes back.
	rep := e.undo(engine.UndoOptions{Entries: seqs[1:]})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer found by their key") {
		t.Fatalf("undo of the drop with a row deleted since: conflicts %+v", rep.Conflicts)
	}
	equal(t, "definition after the conflict", e.catalog(tb), dropped)
	rep = e.undoComplete(engine.UndoOptions{Entries: seqs[1:], Force: true}, "forced undo of the drop")
	if rep.Rows != 2 || rep.Forced != 1 {
		t.Errorf("the undo of the drop wrote %d rows (forced %d), want 2 (row 3 is gone)", rep.Rows, rep.Forced)
	}
	equal(t, "definition after undoing the drop", e.catalog(tb), cat)
	if got := e.query(tb.sql("SELECT {b} FROM {t} WHERE {id} = 4")); !slices.Equal(got, []string{"dflt"}) {
		t.Errorf("the row added since holds %q in the column back, want its default", got)
	}
	e.exec(tb.sql("DELETE FROM {t} WHERE {id} = 4"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (3, NULL, 'three')"))
	equal(t, "rows after undoing the drop", e.dump(tb), rows)

	e.exec(tb.sql("UPDATE {t} SET {b} = 'between' WHERE {id} = 2"))
	between := e.dump(tb)
	rep2 := e.undoComplete(engine.UndoOptions{Entries: []int64{rep.Seq}}, "undo of the undo")
	equal(t, "definition after undoing the undo", e.catalog(tb), dropped)
	e.undoComplete(engine.UndoOptions{Entries: []int64{rep2.Seq}}, "undo of that")
	equal(t, "definition after undoing that", e.catalog(tb), cat)
	equal(t, "rows after undoing that", e.dump(tb), between)
	e.undoComplete(engine.UndoOptions{Entries: seqs[:1]}, "undo of the UPDATE")
	if got := e.query(tb.sql("SELECT {b} FROM {t} WHERE {id} = 1")); !slices.Equal(got, []string{"one"}) {
		t.Errorf("row 1 holds %q after undoing the UPDATE before the drop, want one", got)
	}
}

// testUndoDropColumnsOneByOne: two DROP COLUMNs of one table, undone
// together: the newer comes back last first, which leaves the table's
// columns in another order than the older one recorded after it; the
// older is undone all the same, and every value is back. Undoing that
// undo drops both again, and undoing that brings them back once more.
func testUndoDropColumnsOneByOne(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("dc2", "id", "a", "b", "c")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {a} text, {b} integer, {c} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a1', 10, 'c1'), (2, NULL, 20, 'c2'), (3, 'a3', NULL, NULL)"))
	values := tb.sql("SELECT {id}, {a}, {b}, {c} FROM {t} ORDER BY {id}")
	want := e.query(values)
	CommitAll(t, e.s, tb.sql("ALTER TABLE {t} DROP COLUMN {a}"), tb.sql("ALTER TABLE {t} DROP COLUMN {b}"))
	rep := e.undoComplete(engine.UndoOptions{}, "undo of both drops")
	if rep.Rows != 6 {
		t.Errorf("the undo wrote %d rows, want 6 (3 per column)", rep.Rows)
	}
	equal(t, "values after undoing both drops", e.query(values), want)
	rep2 := e.undoComplete(engine.UndoOptions{Entries: []int64{rep.Seq}}, "undo of that undo")
	if got := e.query(tb.sql("SELECT count(*) FROM {t}")); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("rows after undoing the undo: %v", got)
	}
	e.undoComplete(engine.UndoOptions{Entries: []int64{rep2.Seq}}, "undo of the undo of the undo")
	equal(t, "values after undoing that", e.query(values), want)
}

// testConfirmationSaysWhat: a destructive statement refused for want of
// the confirmation says what it would destroy: the table with its rows,
// a view that uses it, and a foreign key of another table that
// references it, with its ON DELETE CASCADE.
func testConfirmationSaysWhat(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("cfw", "id", "a")
	child := nm.tbl("cfc", "id", "p")
	view := nm.tbl("cfv")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {a} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'x'), (2, 'y'), (3, NULL)"))
	e.exec(child.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {p} integer REFERENCES ") + quote(tb.name) + "(" + quote(tb.cols["id"]) + ") ON DELETE CASCADE)")
	e.exec("CREATE VIEW " + quote(view.name) + " AS SELECT * FROM " + quote(tb.name))
	_, err := e.s.Execute(e.ctx, tb.sql("DELETE FROM {t}"), engine.ExecuteOptions{})
	var ce *engine.ConfirmationError
	if !errors.As(err, &ce) {
		t.Fatalf("DELETE without WHERE and without the confirmation: %v", err)
	}
	var rows, viewFact, fk bool
	for _, f := range ce.Destroys {
		rows = rows || strings.HasPrefix(f, "table ") && strings.Contains(f, "with 3 row(s)")
		viewFact = viewFact || strings.HasPrefix(f, "view ")
		fk = fk || (strings.HasPrefix(f, "foreign key ") || strings.HasPrefix(f, "a foreign key ")) && strings.Contains(f, "ON DELETE CASCADE")
	}
	if !rows || !viewFact || !fk || !strings.Contains(err.Error(), "with 3 row(s)") {
		t.Errorf("the refusal says %q; want the table with its 3 rows, the view and the foreign key", ce.Destroys)
	}
	if got := e.query(tb.sql("SELECT count(*) FROM {t}")); !slices.Equal(got, []string{"3"}) {
		t.Errorf("rows after the refusal: %v", got)
	}
}
