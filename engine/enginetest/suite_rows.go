package enginetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
)

// items is the small keyed table most row cases use.
func (e *env) items(base string) tbl {
	e.t.Helper()
	tb := e.nm.tbl(base, "id", "v", "n")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text NOT NULL, {n} integer)"))
	e.exec(tb.sql("INSERT INTO {t} ({id}, {v}, {n}) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)"))
	return tb
}

func (e *env) rows(tb tbl) []string {
	e.t.Helper()
	return e.query(tb.sql("SELECT {id}, {v}, {n} FROM {t} ORDER BY {id}"))
}

// impactOf finds the impact on a table; dialects may qualify the name.
func impactOf(p *engine.Pending, name string) (engine.TableImpact, bool) {
	for _, it := range p.Impact {
		if it.Table == name || strings.HasSuffix(it.Table, "."+name) {
			return it, true
		}
	}
	return engine.TableImpact{}, false
}

func testRowImages(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("items")
	orig := e.dump(tb)
	name := tb.name
	var seqs []int64

	p := e.commit(tb.sql("UPDATE {t} SET {n} = {n} + 1 WHERE {id} <= 2"))
	seqs = append(seqs, seqOf(t, p))
	equal(t, "UPDATE images", e.images(seqOf(t, p)), []string{
		"U " + name + " (1, a, 10) -> (1, a, 11)",
		"U " + name + " (2, b, 20) -> (2, b, 21)",
	})
	if got := p.Statements[0].RowsAffected; got != 2 {
		t.Errorf("UPDATE RowsAffected = %d, want 2", got)
	}
	if it, ok := impactOf(p, name); !ok || it.Updated != 2 || it.Inserted != 0 || it.Deleted != 0 {
		t.Errorf("UPDATE impact = %+v, want 2 updated in %s", p.Impact, name)
	}

	p = e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 3"))
	seqs = append(seqs, seqOf(t, p))
	equal(t, "DELETE images", e.images(seqOf(t, p)), []string{"D " + name + " (3, c, 30) -> -"})

	p = e.commit(tb.sql("INSERT INTO {t} ({id}, {v}, {n}) VALUES (4, 'd', 40)"))
	seqs = append(seqs, seqOf(t, p))
	equal(t, "INSERT images", e.images(seqOf(t, p)), []string{"I " + name + " - -> (4, d, 40)"})

	p = e.commit(tb.sql("INSERT INTO {t} ({id}, {v}, {n}) VALUES (1, 'z', 0), (5, 'e', 50) ON CONFLICT ({id}) DO UPDATE SET {v} = excluded.{v}"))
	seqs = append(seqs, seqOf(t, p))
	equal(t, "upsert images", e.images(seqOf(t, p)), []string{
		"I " + name + " - -> (5, e, 50)",
		"U " + name + " (1, a, 11) -> (1, z, 11)",
	})
	if it, ok := impactOf(p, name); !ok || it.Updated != 1 || it.Inserted != 1 {
		t.Errorf("upsert impact = %+v, want 1 updated and 1 inserted", p.Impact)
	}

	p = e.commit(tb.sql("INSERT INTO {t} ({id}, {v}, {n}) VALUES (2, 'q', 0) ON CONFLICT ({id}) DO NOTHING"))
	equal(t, "upsert DO NOTHING images", e.images(seqOf(t, p)), []string{})

	equal(t, "rows after the changes", e.rows(tb), []string{"1|z|11", "2|b|21", "4|d|40", "5|e|50"})
	for _, seq := range seqs {
		if st := e.state(seq); st != "committed" {
			t.Errorf("entry %d is %q, want committed", seq, st)
		}
	}

	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undo", e.dump(tb), orig)
	for _, seq := range seqs {
		if st := e.state(seq); st != "undone" {
			t.Errorf("entry %d is %q after undo, want undone", seq, st)
		}
	}
}

func testBatchAllOrNothing(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("batch")
	orig := e.dump(tb)

	_, err := e.s.Execute(e.ctx, tb.sql(`UPDATE {t} SET {v} = 'changed' WHERE {id} = 1;
		INSERT INTO {t} ({id}, {v}, {n}) VALUES (2, 'duplicate key', 0)`), engine.ExecuteOptions{})
	be, ok := errorAs[*engine.BatchError](err)
	if !ok {
		t.Fatalf("Execute with a failing second statement: err = %v, want a *engine.BatchError", err)
	}
	if be.Index != 1 {
		t.Errorf("BatchError.Index = %d, want 1 (the INSERT)", be.Index)
	}
	equal(t, "rows after the failed batch", e.dump(tb), orig)
	var states []string
	for _, en := range e.entries() {
		if en.Kind == "statement" {
			states = append(states, fmt.Sprintf("%d:%s:%d images", en.Index, en.State, en.ImageCount))
		}
		if en.State == "committed" || en.State == "pending" {
			t.Errorf("entry %d (%s) is %s after a failed batch", en.Seq, en.Kind, en.State)
		}
	}
	equal(t, "journaled statements of the failed batch", states, []string{"0:rolled back:0 images", "1:failed:0 images"})

	// A batch that succeeds is one transaction with one entry per statement.
	p := e.commit(tb.sql(`UPDATE {t} SET {v} = 'changed' WHERE {id} = 1; DELETE FROM {t} WHERE {id} = 2`))
	if len(p.Statements) != 2 {
		t.Fatalf("two-statement batch gave %d results", len(p.Statements))
	}
	equal(t, "rows after the batch", e.rows(tb), []string{"1|changed|10", "3|c|30"})
	for _, seq := range p.Seqs() {
		if st := e.state(seq); st != "committed" {
			t.Errorf("entry %d is %q, want committed", seq, st)
		}
	}
	e.undo(engine.UndoOptions{})
	equal(t, "rows after undoing the batch", e.dump(tb), orig)

	// One batch changing the same row twice, then removing it.
	p = e.commit(tb.sql(`UPDATE {t} SET {v} = 'once' WHERE {id} = 3; UPDATE {t} SET {v} = 'twice', {n} = 0 WHERE {id} = 3;
		DELETE FROM {t} WHERE {id} = 3; INSERT INTO {t} VALUES (3, 'again', 1)`))
	equal(t, "rows after changing one row four times", e.rows(tb), []string{"1|a|10", "2|b|20", "3|again|1"})
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() || len(rep.Entries) != 4 {
		t.Errorf("undo of the four-statement batch: entries %v, conflicts %v, skipped %v", rep.Entries, rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undoing the four-statement batch", e.dump(tb), orig)
}

func testReviewBeforeCommit(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("review")
	orig := e.dump(tb)
	q := tb.sql("UPDATE {t} SET {v} = 'reviewed' WHERE {id} >= 2")

	p := e.execute(q)
	if p.RowsChanged() != 2 {
		t.Errorf("RowsChanged = %d, want 2", p.RowsChanged())
	}
	if it, ok := impactOf(p, tb.name); !ok || it.Updated != 2 {
		t.Errorf("Impact = %+v, want 2 updated in %s", p.Impact, tb.name)
	}
	equal(t, "rows seen by others while the batch awaits review", e.dump(tb), orig)
	if _, err := e.s.Execute(e.ctx, tb.sql("DELETE FROM {t} WHERE {id} = 1"), engine.ExecuteOptions{}); !errors.Is(err, engine.ErrBusy) {
		t.Errorf("a second Execute while one awaits review: err = %v, want ErrBusy", err)
	}
	if _, err := e.s.Undo(e.ctx, engine.UndoOptions{}); !errors.Is(err, engine.ErrBusy) {
		t.Errorf("Undo while a batch awaits review: err = %v, want ErrBusy", err)
	}
	if err := p.Rollback(e.ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	equal(t, "rows after Rollback", e.dump(tb), orig)
	if st := e.state(seqOf(t, p)); st != "rolled back" {
		t.Errorf("rolled-back entry is %q", st)
	}
	if err := p.Commit(e.ctx); err == nil {
		t.Errorf("Commit after Rollback succeeded")
	}

	p = e.execute(q)
	if err := p.Commit(e.ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	equal(t, "rows after Commit", e.rows(tb), []string{"1|a|10", "2|reviewed|20", "3|reviewed|30"})
	if st := e.state(seqOf(t, p)); st != "committed" {
		t.Errorf("committed entry is %q", st)
	}

	// MaxRows rolls back a batch that changes more rows than allowed.
	after := e.dump(tb)
	_, err := e.s.Execute(e.ctx, tb.sql("UPDATE {t} SET {n} = 0 WHERE {id} >= 1"), engine.ExecuteOptions{MaxRows: 2})
	if !errors.Is(err, engine.ErrTooManyRows) {
		t.Errorf("Execute over MaxRows: err = %v, want ErrTooManyRows", err)
	}
	equal(t, "rows after a batch over MaxRows", e.dump(tb), after)
}

func testRefusals(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("refusals")
	orig := e.dump(tb)
	cat := e.catalog(tb)
	refused := 0
	for _, c := range []struct {
		q, confirm, why string
	}{
		{tb.sql("DELETE FROM {t}"), "", "DELETE without WHERE, unconfirmed"},
		{tb.sql("DELETE FROM {t}"), "not-" + e.s.ConfirmName(), "DELETE without WHERE, wrong name"},
		{tb.sql("UPDATE {t} SET {n} = 0"), "", "UPDATE without WHERE"},
		{tb.sql("DROP TABLE {t}"), "", "DROP TABLE"},
		{h.Truncate(quote(tb.name)), "", "truncation"},
		{tb.sql("UPDATE {t} SET {n} = 1 WHERE {id} = 1; DELETE FROM {t}"), "", "destructive second statement"},
		{tb.sql("BEGIN; UPDATE {t} SET {n} = 1 WHERE {id} = 1; COMMIT"), e.s.ConfirmName(), "BEGIN/COMMIT in the text"},
		{tb.sql("UPDATE {t} SET {n} = 1 WHERE {id} = 1; ROLLBACK"), e.s.ConfirmName(), "ROLLBACK in the text"},
		{tb.sql("SAVEPOINT sp; UPDATE {t} SET {n} = 1 WHERE {id} = 1"), e.s.ConfirmName(), "SAVEPOINT in the text"},
	} {
		p, err := e.s.Execute(e.ctx, c.q, engine.ExecuteOptions{Confirm: c.confirm})
		if err == nil {
			p.Rollback(e.ctx)
			t.Errorf("%s was not refused: %s", c.why, c.q)
			continue
		}
		if _, isBatch := errorAs[*engine.BatchError](err); isBatch {
			t.Errorf("%s: got a BatchError (it ran), want a refusal before running: %v", c.why, err)
		}
		refused++
		equal(t, "rows after refusing "+c.why, e.dump(tb), orig)
	}
	equal(t, "definition after the refusals", e.catalog(tb), cat)
	n := 0
	for _, en := range e.entries() {
		switch en.State {
		case "refused":
			n++
		case "committed", "pending":
			t.Errorf("entry %d is %s after refusals only", en.Seq, en.State)
		}
	}
	if n < refused {
		t.Errorf("journal holds %d refused statements, want at least %d", n, refused)
	}
	// Confirmed, the same DELETE runs and can be undone.
	e.commit(tb.sql("DELETE FROM {t}"))
	equal(t, "rows after a confirmed DELETE without WHERE", e.rows(tb), []string{})
	e.undo(engine.UndoOptions{})
	equal(t, "rows after undo", e.dump(tb), orig)
}

func testForeignKeyActions(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent := nm.tbl("parent", "id", "v")
	cascade := nm.tbl("cascade", "id", "pid", "v")
	setNull := nm.tbl("setnull", "id", "pid", "v")
	grand := nm.tbl("grand", "id", "cid")
	e.exec(parent.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(cascade.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(parent.name) + " ON DELETE CASCADE, " + cascade.sql("{v} text)"))
	e.exec(setNull.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(parent.name) + " ON DELETE SET NULL, " + setNull.sql("{v} text)"))
	e.exec(grand.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {cid} integer REFERENCES ") + quote(cascade.name) + " ON DELETE CASCADE)")
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1'), (2, 'p2')"))
	e.exec(cascade.sql("INSERT INTO {t} VALUES (10, 1, 'c10'), (11, 1, 'c11'), (12, 2, 'c12')"))
	e.exec(setNull.sql("INSERT INTO {t} VALUES (20, 1, 'n20'), (21, 2, 'n21')"))
	e.exec(grand.sql("INSERT INTO {t} VALUES (30, 10), (31, 12)"))
	all := []tbl{parent, cascade, setNull, grand}
	var orig [][]string
	for _, tb := range all {
		orig = append(orig, e.dump(tb))
	}

	p := e.commit(parent.sql("DELETE FROM {t} WHERE {id} = 1"))
	equal(t, "images of a cascading DELETE", e.images(seqOf(t, p)), []string{
		"D " + cascade.name + " (10, 1, c10) -> -",
		"D " + cascade.name + " (11, 1, c11) -> -",
		"D " + grand.name + " (30, 10) -> -",
		"D " + parent.name + " (1, p1) -> -",
		"U " + setNull.name + " (20, 1, n20) -> (20, NULL, n20)",
	})
	equal(t, "cascade rows after DELETE", e.query(cascade.sql("SELECT {id} FROM {t} ORDER BY {id}")), []string{"12"})
	equal(t, "set-null rows after DELETE", e.query(setNull.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"20|NULL", "21|2"})
	equal(t, "grandchild rows after DELETE", e.query(grand.sql("SELECT {id} FROM {t} ORDER BY {id}")), []string{"31"})

	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	for i, tb := range all {
		equal(t, "rows of "+tb.name+" after undo", e.dump(tb), orig[i])
	}
}

func testNoPrimaryKeyDuplicates(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("nokey", "a", "b")
	e.exec(tb.sql("CREATE TABLE {t} ({a} integer, {b} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'x'), (1, 'x'), (2, 'y'), (NULL, NULL), (NULL, NULL)"))
	orig := e.dump(tb)
	count := func() []string { // sorted here: dialects order NULLs differently
		return slices.Sorted(slices.Values(e.query(tb.sql("SELECT {a}, {b}, count(*) FROM {t} GROUP BY {a}, {b}"))))
	}

	p := e.commit(tb.sql("DELETE FROM {t} WHERE " + h.RowID + " = (SELECT min(" + h.RowID + ") FROM {t} WHERE {a} = 1)"))
	equal(t, "images of deleting one of two identical rows", e.images(seqOf(t, p)), []string{"D " + tb.name + " (1, x) -> -"})
	equal(t, "rows after the delete", count(), []string{"1|x|1", "2|y|1", "NULL|NULL|2"})
	e.undo(engine.UndoOptions{})
	equal(t, "rows after undo", e.dump(tb), orig)

	// Updating both duplicates, and one of the all-NULL pair.
	e.commit(tb.sql("UPDATE {t} SET {b} = 'z' WHERE {a} = 1"))
	e.commit(tb.sql("UPDATE {t} SET {a} = 3 WHERE " + h.RowID + " = (SELECT min(" + h.RowID + ") FROM {t} WHERE {a} IS NULL)"))
	equal(t, "rows after the updates", count(), []string{"1|z|2", "2|y|1", "3|NULL|1", "NULL|NULL|1"})
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undoing the updates", e.dump(tb), orig)

	e.commit(tb.sql("DELETE FROM {t} WHERE {a} = 1 OR {a} IS NULL"))
	equal(t, "rows after deleting duplicates", count(), []string{"2|y|1"})
	e.undo(engine.UndoOptions{})
	equal(t, "rows after undoing the delete", e.dump(tb), orig)
}

func testCompositeKey(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("composite", "a", "b", "v")
	e.exec(tb.sql("CREATE TABLE {t} ({a} integer NOT NULL, {b} text NOT NULL, {v} text, PRIMARY KEY ({a}, {b}))"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'x', 'v1'), (1, 'y', 'v2'), (2, 'x', 'v3')"))
	orig := e.dump(tb)

	// The key itself changes: undo must find the rows by their new key.
	p := e.commit(tb.sql("UPDATE {t} SET {b} = {b} || '2', {v} = 'w' WHERE {a} = 1"))
	equal(t, "images of a key-changing UPDATE", e.images(seqOf(t, p)), []string{
		"U " + tb.name + " (1, x, v1) -> (1, x2, w)",
		"U " + tb.name + " (1, y, v2) -> (1, y2, w)",
	})
	e.undo(engine.UndoOptions{})
	equal(t, "rows after undo", e.dump(tb), orig)

	e.commit(tb.sql("DELETE FROM {t} WHERE {a} = 1 AND {b} = 'y'"))
	e.commit(tb.sql("INSERT INTO {t} VALUES (1, 'y', 'new'), (3, 'z', 'v4')"))
	equal(t, "rows after delete and re-insert", e.query(tb.sql("SELECT {a}, {b}, {v} FROM {t} ORDER BY {a}, {b}")),
		[]string{"1|x|v1", "1|y|new", "2|x|v3", "3|z|v4"})
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undoing both", e.dump(tb), orig)
}

// testSessionSettings checks settings of the session's own connection, as
// the session itself reports them.
func testSessionSettings(t *testing.T, h Harness, nm names) {
	if len(h.SessionSettings) == 0 {
		t.Skip("the harness lists no session settings")
	}
	e := newEnv(t, h, nm)
	// After a change and its undo, so that settings an undo changes for
	// itself are seen not to leak.
	tb := e.items("settings")
	e.commit(tb.sql("UPDATE {t} SET {n} = 0 WHERE {id} = 1"))
	e.undo(engine.UndoOptions{})
	for q, want := range h.SessionSettings {
		p := e.execute(q)
		res := p.Statements[0].Result
		if err := p.Rollback(e.ctx); err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
			t.Errorf("%s returned %v, want one value", q, res.Rows)
			continue
		}
		if got := res.Rows[0][0].String(); got != want {
			t.Errorf("%s is %s on the session's connection, want %s", q, got, want)
		}
	}
}

// testForeignKeyKeyUpdate undoes a key UPDATE of a parent row that
// cascaded to its children: parent and children must come back exactly.
func testForeignKeyKeyUpdate(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	parent := nm.tbl("fparent", "id", "v")
	child := nm.tbl("fchild", "id", "pid", "v")
	e.exec(parent.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} text)"))
	e.exec(child.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {pid} integer REFERENCES ") + quote(parent.name) +
		" ON DELETE CASCADE ON UPDATE CASCADE, " + child.sql("{v} text)"))
	e.exec(parent.sql("INSERT INTO {t} VALUES (1, 'p1'), (2, 'p2')"))
	e.exec(child.sql("INSERT INTO {t} VALUES (10, 1, 'c10'), (11, 1, 'c11'), (12, 2, 'c12')"))
	origP, origC := e.dump(parent), e.dump(child)

	upd := e.commit(parent.sql("UPDATE {t} SET {id} = 5 WHERE {id} = 1"))
	equal(t, "children after the key update", e.query(child.sql("SELECT {id}, {pid} FROM {t} ORDER BY {id}")), []string{"10|5", "11|5", "12|2"})
	rep := e.undo(engine.UndoOptions{Entries: upd.Seqs()})
	if !rep.Complete() {
		t.Errorf("undo of a cascading key update: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "parents after undoing the key update", e.dump(parent), origP)
	equal(t, "children after undoing the key update", e.dump(child), origC)
}
