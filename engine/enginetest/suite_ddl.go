package enginetest

import (
	"fmt"
	"testing"

	"lifebelt/engine"
)

func testDropTable(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	ref := nm.tbl("ref", "id")
	e.exec(ref.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY)"))
	e.exec(ref.sql("INSERT INTO {t} VALUES (1), (2)"))
	tb := nm.tbl("dropme", "id", "code", "qty", "ref", "note")
	e.exec(tb.sql(`CREATE TABLE {t} (
		{id} integer PRIMARY KEY,
		{code} text NOT NULL DEFAULT 'none',
		{qty} integer DEFAULT 7 CHECK ({qty} >= 0),
		{ref} integer REFERENCES `) + quote(ref.name) + tb.sql(` ON DELETE SET NULL,
		{note} text,
		UNIQUE ({code}))`))
	e.exec(tb.sql("CREATE INDEX " + quote(nm.table("ix_qty")) + " ON {t} ({qty}, {code})"))
	e.exec(tb.sql("CREATE UNIQUE INDEX " + quote(nm.table("ix_note")) + " ON {t} ({note}) WHERE {note} IS NOT NULL"))
	e.exec(tb.sql("INSERT INTO {t} VALUES (1, 'a', 1, 1, 'first'), (2, 'b', 0, NULL, NULL), (3, 'c', 5, 2, 'it''s')"))
	cat, orig := e.catalog(tb), e.dump(tb)
	if len(cat) == 0 {
		t.Fatalf("Catalog(%s) found nothing", tb.name)
	}

	p := e.commit(tb.sql("DROP TABLE {t}"))
	if c := e.catalog(tb); len(c) != 0 {
		t.Fatalf("the table still exists after DROP TABLE: %v", c)
	}
	objs, err := e.s.Journal().Objects(seqOf(t, p))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range objs {
		if o.Kind == "TABLE" && o.Name == tb.name && o.Action == engine.ActionDrop && o.Before != nil && len(o.Before.Create) > 0 && o.Table != 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("the journal holds no dropped-table definition with rows for %s: %+v", tb.name, objs)
	}

	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "definition after undoing DROP TABLE", e.catalog(tb), cat)
	equal(t, "rows after undoing DROP TABLE", e.dump(tb), orig)
	e.checkConstraints(tb)

	// Undoing the undo drops the table again, and undoing that brings it back.
	rep2 := e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}})
	if c := e.catalog(tb); len(c) != 0 {
		t.Errorf("undoing the undo of DROP TABLE left the table: %v (report %+v)", c, rep2)
	}
	e.undo(engine.UndoOptions{Entries: []int64{rep2.Seq}})
	equal(t, "definition after undoing twice more", e.catalog(tb), cat)
	equal(t, "rows after undoing twice more", e.dump(tb), orig)
}

// checkConstraints asserts the restored dropme table still enforces its
// defaults, CHECK, UNIQUE, unique index and foreign key.
func (e *env) checkConstraints(tb tbl) {
	e.t.Helper()
	for _, c := range []struct{ q, why string }{
		{"INSERT INTO {t} ({id}, {code}, {qty}) VALUES (10, 'x', -1)", "CHECK"},
		{"INSERT INTO {t} ({id}, {code}) VALUES (10, 'a')", "UNIQUE"},
		{"INSERT INTO {t} ({id}, {code}, {note}) VALUES (10, 'x', 'first')", "unique index"},
		{"INSERT INTO {t} ({id}, {code}, {ref}) VALUES (10, 'x', 99)", "foreign key"},
		{"INSERT INTO {t} ({id}, {code}) VALUES (1, 'x')", "primary key"},
	} {
		if _, err := e.db.ExecContext(e.ctx, tb.sql(c.q)); err == nil {
			e.t.Errorf("the restored table does not enforce its %s: %s succeeded", c.why, tb.sql(c.q))
			e.exec(tb.sql("DELETE FROM {t} WHERE {id} = 10"))
		}
	}
	e.exec(tb.sql("INSERT INTO {t} ({id}) VALUES (10)"))
	equal(e.t, "defaults of the restored table", e.query(tb.sql("SELECT {code}, {qty} FROM {t} WHERE {id} = 10")), []string{"none|7"})
	e.exec(tb.sql("DELETE FROM {t} WHERE {id} = 10"))
}

func testTruncate(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := e.items("truncated")
	e.exec(tb.sql("CREATE INDEX " + quote(nm.table("ix_trunc")) + " ON {t} ({v})"))
	for i := 4; i <= 200; i++ {
		e.exec(tb.sql(fmt.Sprintf("INSERT INTO {t} VALUES (%d, 'row %d', %d)", i, i, i*10)))
	}
	orig, cat := e.dump(tb), e.catalog(tb)

	p := e.commit(h.Truncate(quote(tb.name)))
	equal(t, "rows after truncation", e.rows(tb), []string{})
	if n := p.Statements[0].Images; n != 200 {
		t.Errorf("truncation journaled %d images, want 200", n)
	}
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undoing the truncation", e.dump(tb), orig)
	equal(t, "definition after undoing the truncation", e.catalog(tb), cat)
}

// testGeneratedColumn checks that stored generated columns are captured,
// never written back on undo, and survive DROP TABLE and its undo.
func testGeneratedColumn(t *testing.T, h Harness, nm names) {
	e := newEnv(t, h, nm)
	tb := nm.tbl("generated", "id", "n", "twice")
	e.exec(tb.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {n} integer NOT NULL, {twice} integer GENERATED ALWAYS AS ({n} * 2) STORED)"))
	e.exec(tb.sql("INSERT INTO {t} ({id}, {n}) VALUES (1, 1), (2, 2), (3, 3)"))
	orig, cat := e.dump(tb), e.catalog(tb)
	rows := func() []string { return e.query(tb.sql("SELECT {id}, {n}, {twice} FROM {t} ORDER BY {id}")) }

	p := e.commit(tb.sql("UPDATE {t} SET {n} = {n} + 10 WHERE {id} <= 2"))
	equal(t, "images of an UPDATE with a generated column", e.images(seqOf(t, p)), []string{
		"U " + tb.name + " (1, 1, 2) -> (1, 11, 22)",
		"U " + tb.name + " (2, 2, 4) -> (2, 12, 24)",
	})
	e.commit(tb.sql("DELETE FROM {t} WHERE {id} = 3"))
	equal(t, "rows after the changes", rows(), []string{"1|11|22", "2|12|24"})
	rep := e.undo(engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo incomplete: %v %v", rep.Conflicts, rep.Skipped)
	}
	equal(t, "rows after undo", e.dump(tb), orig)

	p = e.commit(tb.sql("DROP TABLE {t}"))
	e.undo(engine.UndoOptions{Entries: []int64{seqOf(t, p)}})
	equal(t, "definition after undoing DROP TABLE", e.catalog(tb), cat)
	equal(t, "rows after undoing DROP TABLE", e.dump(tb), orig)
	e.exec(tb.sql("UPDATE {t} SET {n} = 5 WHERE {id} = 1"))
	equal(t, "the restored column is still generated", e.query(tb.sql("SELECT {twice} FROM {t} WHERE {id} = 1")), []string{"10"})
}
