package enginetest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lifebelt/engine"
)

// refTables creates a parent and two children that refer to it, one ON
// DELETE CASCADE and one ON DELETE SET NULL: the actions that, firing
// during undo, would delete or change rows of others.
func refTables(e *env) (parent, cascade, setNull tbl) {
	nm := e.nm
	parent = nm.tbl("rparent", "id", "v")
	cascade = nm.tbl("rcascade", "id", "pid")
	setNull = nm.tbl("rsetnull", "id", "pid")
	e.exec(parent.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(cascade.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(parent.name) + " ON DELETE CASCADE ON UPDATE CASCADE)")
	e.exec(setNull.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(parent.name) + " ON DELETE SET NULL ON UPDATE SET NULL)")
	return
}

// undoRefused runs an undo that must be refused for the references it
// would break, and returns what it reported.
func (e *env) undoRefused(opt engine.UndoOptions) []engine.Dangling {
	e.t.Helper()
	n := len(e.entries())
	rep, err := e.s.Undo(e.ctx, opt)
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		e.t.Fatalf("Undo(%+v) = %+v, %v; want it refused for rows left referring to nothing", opt, rep, err)
	}
	if !strings.Contains(err.Error(), "nothing was changed") {
		e.t.Errorf("the refusal does not say that nothing was changed: %v", err)
	}
	if got := len(e.entries()); got != n {
		e.t.Errorf("the refused undo added %d journal entries", got-n)
	}
	return re.Dangling
}

// danglingStrings renders what a refusal reported, comparably.
func danglingStrings(ds []engine.Dangling) []string {
	var out []string
	for _, d := range ds {
		s := d.FK.Child.Name + " " + formatValues(d.Values)
		if d.Restored {
			s += " restored"
		} else {
			s += " rows=" + strconv.FormatInt(d.Rows, 10)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// formatValues renders values plainly: text bare, NULL as NULL.
func formatValues(vs []engine.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v.K == engine.TextKind {
			parts[i] = v.S
		} else {
			parts[i] = v.String()
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// testUndoKeepsReferences undoes the INSERT of parent rows that another
// client has since given children. Undo must not delete them (ON DELETE
// CASCADE) or change them (SET NULL), nor leave them referring to nothing:
// it is refused as a whole, saying which rows refer to which, on a dry
// run too. Once the children are gone, the same undo goes through.
func testUndoKeepsReferences(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent, cascade, setNull := refTables(e)
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'old')"))
	e.commit(parent.sql("INSERT INTO {t} VALUES (2, 'p2'), (3, 'p3'), (4, 'p4')"))
	e.exec(cascade.sql("INSERT INTO {t} VALUES (10, 2), (11, 2), (12, 1)"))
	e.exec(setNull.sql("INSERT INTO {t} VALUES (20, 3), (21, 1)"))
	want := map[string][]string{}
	for _, tb := range []tbl{parent, cascade, setNull} {
		want[tb.name] = e.dump(tb)
	}
	check := func(when string) {
		t.Helper()
		for _, tb := range []tbl{parent, cascade, setNull} {
			equal(t, "rows of "+tb.name+" "+when, e.dump(tb), want[tb.name])
		}
	}
	wantRefs := []string{cascade.name + " (2) rows=2", setNull.name + " (3) rows=1"}
	equal(t, "what the dry run refused for", danglingStrings(e.undoRefused(engine.UndoOptions{DryRun: true})), wantRefs)
	check("after the refused dry run")
	equal(t, "what undo refused for", danglingStrings(e.undoRefused(engine.UndoOptions{})), wantRefs)
	check("after the refused undo")
	equal(t, "what a forced undo refused for", danglingStrings(e.undoRefused(engine.UndoOptions{Force: true})), wantRefs)
	check("after the refused forced undo")

	e.exec(cascade.sql("DELETE FROM {t} WHERE {pid} = 2"))
	e.exec(setNull.sql("UPDATE {t} SET {pid} = 1 WHERE {id} = 20"))
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "parent rows after undo", e.query(parent.sql("SELECT {id} FROM {t} ORDER BY {id}")), []string{"1"})
	equal(t, "cascade rows after undo", e.query(cascade.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"12|1"})
	equal(t, "set-null rows after undo", e.query(setNull.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"20|1", "21|1"})

	// A key changed, and a child added since under the new key: putting
	// the old key back would leave the child referring to nothing (or,
	// with ON UPDATE CASCADE firing, move it).
	seqs := []int64{seqOf(t, e.commit(parent.sql("UPDATE {t} SET {id} = 7 WHERE {id} = 1")))}
	e.exec(cascade.sql("INSERT INTO {t} VALUES (13, 7)"))
	equal(t, "what undoing the key change refused for", danglingStrings(e.undoRefused(engine.UndoOptions{Entries: seqs})), []string{cascade.name + " (7) rows=1"})
	equal(t, "cascade rows after the refused undo", e.query(cascade.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"12|7", "13|7"})
}

// testUndoRefusesOrphans undoes the DELETE of a child whose parent another
// client has deleted since: putting it back would leave it referring to
// nothing, so the undo is refused.
func testUndoRefusesOrphans(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent, cascade, _ := refTables(e)
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1'), (2, 'p2')"))
	e.exec(cascade.sql("INSERT INTO {t} VALUES (10, 1), (11, 2)"))
	e.commit(cascade.sql("DELETE FROM {t} WHERE {id} = 10"))
	e.exec(parent.sql("DELETE FROM {t} WHERE {id} = 1"))
	before := e.dump(cascade)
	equal(t, "what undo refused for", danglingStrings(e.undoRefused(engine.UndoOptions{})), []string{cascade.name + " (1) restored"})
	equal(t, "child rows after the refused undo", e.dump(cascade), before)
	// The parent back, the child goes back too.
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1 again')"))
	if rep := e.undo(engine.UndoOptions{}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "child rows after undo", e.query(cascade.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"10|1", "11|2"})
}

// testUndoReferencesInAnyOrder undoes sessions whose rows refer to each
// other: a parent and its children inserted together, a tree referring
// to itself with a cycle closed by an UPDATE, a parent's key changed and
// its child moved with it by ON UPDATE CASCADE, and a parent updated
// without its key changing while others' children refer to it. None
// leaves a row referring to nothing, so each undo goes through, whatever
// order the rows are written in, and touches no row it did not image.
func testUndoReferencesInAnyOrder(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent, cascade, setNull := refTables(e)
	node := nm.tbl("rnode", "id", "up")
	e.exec(node.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {up} integer REFERENCES {t} ON DELETE CASCADE)"))
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1'), (9, 'p9')"))
	e.exec(setNull.sql("INSERT INTO {t} VALUES (21, 1)"))
	e.exec(cascade.sql("INSERT INTO {t} VALUES (19, 9)"))
	all := []tbl{parent, cascade, setNull, node}
	var orig [][]string
	for _, tb := range all {
		orig = append(orig, e.dump(tb))
	}

	e.commit(parent.sql("INSERT INTO {t} VALUES (5, 'p5')") + ";" + cascade.sql("INSERT INTO {t} VALUES (50, 5), (51, 5)"))
	e.commit(node.sql("INSERT INTO {t} VALUES (1, NULL), (2, 1), (3, 2)") + ";" + node.sql("UPDATE {t} SET {up} = 3 WHERE {id} = 1"))
	e.commit(parent.sql("UPDATE {t} SET {v} = 'changed' WHERE {id} = 1"))
	e.commit(parent.sql("UPDATE {t} SET {id} = 8 WHERE {id} = 9"))
	equal(t, "the child moved with its parent's key", e.query(cascade.sql("SELECT {id}, {pid} FROM {t} WHERE {id} = 19")), []string{"19|8"})

	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	for i, tb := range all {
		equal(t, "rows of "+tb.name+" after undo", e.dump(tb), orig[i])
	}
	// And back: undoing the undo refers to nothing missing either.
	if rep2 := e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}}); !rep2.Complete() {
		t.Fatalf("undo of the undo left conflicts %v, skipped %v", rep2.Conflicts, rep2.Skipped)
	}
	equal(t, "node rows after undoing the undo", e.query(node.sql("SELECT {id}, {up} FROM {t} ORDER BY {id}")), []string{"1|3", "2|1", "3|2"})
	equal(t, "cascade rows after undoing the undo", e.query(cascade.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"19|8", "50|5", "51|5"})
}
