package enginetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
)

// conflictSeed adds rows 4, 5 and 10 to an items table.
func conflictSeed(e *env, tb tbl) {
	e.t.Helper()
	e.exec(tb.sql("INSERT INTO {t} VALUES (4, 'd', 40), (5, 'e', 50), (10, 'x', 100)"))
}

// conflictSetup commits an UPDATE of rows 1..5, then a batch deleting row
// 10 and inserting row 20, then lets another client change rows 3 and 20,
// delete row 4 and insert row 10 again. It returns the UPDATE's entry and
// the batch's first entry.
func conflictSetup(e *env, tb tbl) (upd, del int64) {
	e.t.Helper()
	upd = seqOf(e.t, e.commit(tb.sql("UPDATE {t} SET {v} = {v} || '-g' WHERE {id} <= 5")))
	del = e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 10; INSERT INTO {t} VALUES (20, 'new', 200)")).Seqs()[0]
	e.exec(tb.sql("UPDATE {t} SET {v} = 'other' WHERE {id} = 3"))
	e.exec(tb.sql("UPDATE {t} SET {v} = 'changed too' WHERE {id} = 20"))
	e.exec(tb.sql("DELETE FROM {t} WHERE {id} = 4"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (10, 'intruder', 0)"))
	return upd, del
}

func testUndoConflicts(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("conflicts")
	conflictSeed(e, tb)
	upd, del := conflictSetup(e, tb)

	rep := e.undo(engine.UndoOptions{})
	var got []string
	for _, c := range rep.Conflicts {
		reason := "other"
		switch {
		case strings.Contains(c.Reason, "changed"):
			reason = "changed"
		case strings.Contains(c.Reason, "deleted"):
			reason = "deleted"
		case strings.Contains(c.Reason, "inserted"):
			reason = "inserted"
		}
		got = append(got, fmt.Sprintf("%d %s %s", c.Entry, renderRow(c.Key), reason))
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("%d (3) changed", upd),
		fmt.Sprintf("%d (4) deleted", upd),
		fmt.Sprintf("%d (10) inserted", del),
		fmt.Sprintf("%d (20) changed", del+1),
	}
	slices.Sort(want)
	equal(t, "conflicts", got, want)
	if rep.Complete() {
		t.Errorf("an undo with conflicts reports itself complete")
	}
	if rep.Forced != 0 {
		t.Errorf("Forced = %d without Force", rep.Forced)
	}
	if rep.Rows != 3 {
		t.Errorf("undo wrote %d rows, want 3 (rows 1, 2 and 5)", rep.Rows)
	}
	equal(t, "rows after undo with conflicts", e.rows(tb),
		[]string{"1|a|10", "2|b|20", "3|other|30", "5|e|50", "10|intruder|0", "20|changed too|200"})
	if st := e.state(rep.Seq); st != "committed" {
		t.Errorf("the undo entry is %q", st)
	}
}

// testUndoReinsertConflict undoes a DELETE of many rows, one of which
// another client has inserted again meanwhile: the fast re-insert of the
// batch must fail, be rolled back completely, and the careful path must
// restore every other row and report the one conflict, leaving the other
// client's row alone. It runs for a plain primary key and for each of the
// dialect's key variants (keys that replace, ignore or defer instead of
// failing the insert).
func testUndoReinsertConflict(t *testing.T, h Harness, nm names) {
	for i, key := range append([]string{"integer PRIMARY KEY"}, h.KeyVariants...) {
		t.Run(strings.ReplaceAll(key, " ", "_"), func(t *testing.T) {
			e := newEnv(t, h, nm)
			tb := e.nm.tbl(fmt.Sprintf("reinsert%d", i), "id", "v", "n")
			e.exec(tb.sql("CREATE TABLE {t} ({id} " + key + ", {v} text NOT NULL, {n} integer)"))
			for i := 1; i <= 300; i++ {
				e.exec(tb.sql(fmt.Sprintf("INSERT INTO {t} VALUES (%d, 'r%d', %d)", i, i, i)))
			}
			orig := e.rows(tb)
			p := e.commit(tb.sql("DELETE FROM {t} WHERE {id} > 1"))
			e.exec(tb.sql("INSERT INTO {t} VALUES (150, 'intruder', 0)"))
			rep := e.undo(engine.UndoOptions{Entries: p.Seqs()})
			if len(rep.Conflicts) != 1 || renderRow(rep.Conflicts[0].Key) != "(150)" || !strings.Contains(rep.Conflicts[0].Reason, "inserted") {
				t.Fatalf("conflicts %+v, want row 150 inserted since", rep.Conflicts)
			}
			if rep.Rows != 298 {
				t.Errorf("undo wrote %d rows, want 298", rep.Rows)
			}
			want := slices.Clone(orig)
			for i, r := range want {
				if strings.HasPrefix(r, "150|") {
					want[i] = "150|intruder|0"
				}
			}
			equal(t, "rows after undo", e.rows(tb), want)
			// The undo's own images are exactly the 298 rows it put back.
			if n := len(e.images(rep.Seq)); n != 298 {
				t.Errorf("the undo entry has %d images, want 298", n)
			}
		})
	}
}

func testUndoForce(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("forced")
	conflictSeed(e, tb)
	orig := e.dump(tb)
	conflictSetup(e, tb)

	rep := e.undo(engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 {
		t.Errorf("forced undo reports conflicts: %v", rep.Conflicts)
	}
	if rep.Forced != 4 {
		t.Errorf("Forced = %d, want 4 (rows 3, 4, 10 and 20)", rep.Forced)
	}
	equal(t, "rows after forced undo", e.dump(tb), orig)
}

func testUndoOfUndo(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("undoundo")
	orig := e.dump(tb)
	p := e.commit(tb.sql("UPDATE {t} SET {v} = 'u' WHERE {id} >= 2; DELETE FROM {t} WHERE {id} = 1; INSERT INTO {t} VALUES (7, 'g', 70)"))
	changed := e.dump(tb)

	rep := e.undo(engine.UndoOptions{})
	equal(t, "rows after undo", e.dump(tb), orig)
	for _, seq := range p.Seqs() {
		if st := e.state(seq); st != "undone" {
			t.Errorf("entry %d is %q after undo, want undone", seq, st)
		}
	}
	rep2 := e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}})
	equal(t, "rows after undoing the undo", e.dump(tb), changed)
	if st := e.state(rep.Seq); st != "undone" {
		t.Errorf("the undone undo is %q", st)
	}
	for _, seq := range p.Seqs() {
		if st := e.state(seq); st != "committed" {
			t.Errorf("entry %d is %q after its undo was undone, want committed", seq, st)
		}
	}
	// Undoing everything again reverts the re-applied change.
	rep3 := e.undo(engine.UndoOptions{})
	equal(t, "rows after undoing again", e.dump(tb), orig)
	if len(rep3.Entries) != len(p.Seqs()) {
		t.Errorf("the second undo of everything undid %v, want the batch's %v (undo %d re-applied them)", rep3.Entries, p.Seqs(), rep2.Seq)
	}
}

func testUndoDryRun(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("dryrun")
	orig := e.dump(tb)
	e.commit(tb.sql("UPDATE {t} SET {n} = 0 WHERE {id} <= 2"))
	e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 3"))
	changed := e.dump(tb)
	before := e.entries()

	rep := e.undo(engine.UndoOptions{DryRun: true})
	if !rep.DryRun || rep.Seq != 0 || rep.Rows != 3 || len(rep.Entries) != 2 || len(rep.Conflicts) != 0 {
		t.Errorf("dry-run report = %+v, want 3 rows from 2 entries, no entry of its own", rep)
	}
	equal(t, "rows after a dry run", e.dump(tb), changed)
	after := e.entries()
	if len(after) != len(before) {
		t.Errorf("a dry run added %d journal entries", len(after)-len(before))
	}
	for i := range min(len(before), len(after)) {
		if before[i].State != after[i].State {
			t.Errorf("a dry run changed entry %d from %s to %s", before[i].Seq, before[i].State, after[i].State)
		}
	}

	e.exec(tb.sql("UPDATE {t} SET {v} = 'other' WHERE {id} = 2"))
	withOther := e.dump(tb)
	rep = e.undo(engine.UndoOptions{DryRun: true})
	if len(rep.Conflicts) != 1 {
		t.Errorf("dry run after another client's change reports %d conflicts, want 1: %v", len(rep.Conflicts), rep.Conflicts)
	}
	equal(t, "rows after a dry run with a conflict", e.dump(tb), withOther)

	e.undo(engine.UndoOptions{Force: true})
	equal(t, "rows after the real undo", e.dump(tb), orig)
}

func testUndoScript(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("scripted")
	dropped := e.items("scripted_drop")
	e.exec(dropped.sql("CREATE INDEX " + quote(nm.table("ix_sd")) + " ON {t} ({n}, {v})"))
	origD, catD := e.dump(dropped), e.catalog(dropped)

	e.commit(tb.sql("UPDATE {t} SET {n} = {n} + 1 WHERE {id} <= 2"))
	e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 3"))
	e.commit(tb.sql("INSERT INTO {t} VALUES (4, 'd', 40)"))
	e.commit(tb.sql("INSERT INTO {t} VALUES (1, 'z', 0) ON CONFLICT ({id}) DO UPDATE SET {v} = excluded.{v}"))
	e.commit(dropped.sql("DROP TABLE {t}"))
	// Another client changes row 2 after Lifebelt did: the script must leave it.
	e.exec(tb.sql("UPDATE {t} SET {v} = 'other' WHERE {id} = 2"))

	script := e.undoScript()
	if !strings.Contains(script, quote(tb.name)) && !strings.Contains(script, tb.name) {
		t.Errorf("the script never names %s", tb.name)
	}
	want := []string{"1|a|10", "2|other|21", "3|c|30"}
	for run := 1; run <= 2; run++ {
		e.runScript(script)
		equal(t, fmt.Sprintf("rows after running the script %d time(s)", run), e.rows(tb), want)
		equal(t, fmt.Sprintf("dropped table's rows after running the script %d time(s)", run), e.dump(dropped), origD)
		equal(t, fmt.Sprintf("dropped table's definition after running the script %d time(s)", run), e.catalog(dropped), catD)
	}

	// A script of chosen entries undoes only those.
	e.forgetCommitted()
	p := e.commit(tb.sql("UPDATE {t} SET {n} = 99 WHERE {id} = 1"))
	e.commit(tb.sql("UPDATE {t} SET {n} = 98 WHERE {id} = 3"))
	e.runScript(e.undoScript(seqOf(t, p)))
	equal(t, "rows after a script of one entry", e.rows(tb), []string{"1|a|10", "2|other|21", "3|c|98"})
	e.forgetCommitted()
}

// testUndoScriptKeyless runs undo scripts over keyless tables, where only
// counting identical rows tells them apart.
func testUndoScriptKeyless(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	// Keyless rows changed by two entries in turn: the second run must
	// not re-insert rows the first run already put back and updated.
	bag := nm.tbl("scripted_bag", "a", "b")
	e.exec(bag.sql("CREATE TABLE {t} ({a} integer, {b} text)"))
	e.exec(bag.sql("INSERT INTO {t} VALUES (1, 'x'), (1, 'x'), (2, 'y')"))
	origBag := e.dump(bag)
	e.commit(bag.sql("UPDATE {t} SET {b} = 'z' WHERE {a} = 1"))
	e.commit(bag.sql("DELETE FROM {t} WHERE {a} >= 1"))
	script := e.undoScript()
	for run := 1; run <= 2; run++ {
		e.runScript(script)
		equal(t, fmt.Sprintf("keyless rows after running the script %d time(s)", run), e.dump(bag), origBag)
	}

	// Keyless duplicates: undoing the change of one of two identical
	// rows, or the insert of a copy, must touch one row, not all copies.
	dup := nm.tbl("scripted_dup", "a", "b")
	e.exec(dup.sql("CREATE TABLE {t} ({a} integer, {b} text)"))
	e.exec(dup.sql("INSERT INTO {t} VALUES (1, 'x'), (1, 'z'), (2, 'y')"))
	origDup := e.dump(dup)
	e.forgetCommitted()
	e.commit(dup.sql("UPDATE {t} SET {b} = 'z' WHERE {a} = 1 AND {b} = 'x'"))
	e.commit(dup.sql("INSERT INTO {t} VALUES (2, 'y')"))
	script = e.undoScript()
	for run := 1; run <= 2; run++ {
		e.runScript(script)
		equal(t, fmt.Sprintf("keyless duplicates after running the script %d time(s)", run), e.dump(dup), origDup)
	}
}

func testContinueJournal(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("continued")
	orig := e.dump(tb)
	p1 := e.commit(tb.sql("UPDATE {t} SET {v} = 'one' WHERE {id} = 1"))

	e.reopen()
	if st := e.state(seqOf(t, p1)); st != "committed" {
		t.Errorf("entry of the first session is %q in the continued journal", st)
	}
	p2 := e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 2"))
	if p2.Batch <= p1.Batch {
		t.Errorf("batch numbers restart in a continued journal: %d after %d", p2.Batch, p1.Batch)
	}
	if seqOf(t, p2) <= seqOf(t, p1) {
		t.Errorf("entry numbers restart in a continued journal")
	}
	rep := e.undo(engine.UndoOptions{})
	if len(rep.Entries) != 2 {
		t.Errorf("undo in the continued session undid %v, want both sessions' entries", rep.Entries)
	}
	equal(t, "rows after undo in the continued session", e.dump(tb), orig)

	n := len(e.entries())
	other := h.NewTarget(t)
	if s, err := openSession(e.ctx, other, e.jpath); err == nil {
		s.Close()
		t.Errorf("a journal of one database was continued for another (%s)", other)
	}
	if got := len(e.entries()); got != n {
		t.Errorf("the refused continuation changed the journal: %d entries, had %d", got, n)
	}
	// The session itself still works.
	e.commit(tb.sql("UPDATE {t} SET {v} = 'three' WHERE {id} = 3"))
}

// testUndoTriggers undoes a session whose statements fired row triggers
// writing to an audit table. Undo must not fire them again: re-inserted,
// reset and removed rows would add audit rows nobody journaled (or, with a
// trigger keeping a total, count a change twice). Where trigger writes are
// imaged, undo removes the session's audit rows too. Undoing the undo
// fires nothing either, and the triggers still work afterwards.
func testUndoTriggers(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("trig")
	audit := nm.tbl("trig audit", "msg")
	e.exec(audit.sql("CREATE TABLE {t} ({msg} text)"))
	for _, q := range h.AuditTrigger(tb.sql("{t}"), audit.sql("{t}")) {
		e.exec(q)
	}
	count := func() string { return e.query(audit.sql("SELECT count(*) FROM {t}"))[0] }
	before := e.rows(tb)
	p := e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 1; UPDATE {t} SET {v} = 'B' WHERE {id} = 2; INSERT INTO {t} VALUES (4, 'd', 40)"))
	after := e.rows(tb)
	if got := count(); got != "3" {
		t.Fatalf("the session's statements wrote %s audit rows, want 3 (one per changed row)", got)
	}
	for _, r := range p.Statements {
		if len(r.Warnings) == 0 {
			t.Errorf("the trigger writes of %q went without a warning", r.Statement.Text)
		}
	}
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undo", e.rows(tb), before)
	wantAudit := "3" // only reported: left as they are, and nothing added
	if h.ImagesTriggerWrites {
		wantAudit = "0"
	}
	if got := count(); got != wantAudit {
		t.Errorf("after undo the audit table has %s rows, want %s: undo fired the triggers", got, wantAudit)
	}
	rep2 := e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undo of the undo left conflicts %v, skipped %v", rep2.Conflicts, rep2.Skipped)
	}
	equal(t, "rows after undoing the undo", e.rows(tb), after)
	if got := count(); got != "3" {
		t.Errorf("after undoing the undo the audit table has %s rows, want 3", got)
	}
	e.exec(tb.sql("INSERT INTO {t} VALUES (5, 'e', 50)"))
	if got := count(); got != "4" {
		t.Errorf("an INSERT after undo left %s audit rows, want 4: the trigger must fire once undo is over, and once only", got)
	}
}

// testUndoKeylessKeepsAddedColumn undoes an UPDATE of a table without a
// key after another client added a column and filled it: undo sets the
// row back in place, so the new column keeps its value (replacing the
// row would have put its default there).
func testUndoKeylessKeepsAddedColumn(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("keyless added", "a", "b", "extra")
	e.exec(tb.sql("CREATE TABLE {t} ({a} integer, {b} text)"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'x'), (1, 'x'), (2, 'y')"))
	e.commit(tb.sql("UPDATE {t} SET {b} = 'z' WHERE {a} = 1"))
	e.exec(tb.sql("ALTER TABLE {t} ADD COLUMN {extra} text"))
	e.exec(tb.sql("UPDATE {t} SET {extra} = 'kept'"))
	if rep := e.undo(engine.UndoOptions{}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undo", e.query(tb.sql("SELECT {a}, {b}, {extra} FROM {t} ORDER BY {a}, {b}")), []string{"1|x|kept", "1|x|kept", "2|y|kept"})
}
