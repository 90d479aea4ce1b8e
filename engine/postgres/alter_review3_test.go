package postgres_test

// Third review of the PostgreSQL undo (2509a33): CREATE OR REPLACE undone
// by drop and create, DROP of created tables in a savepoint, images kept
// apart.

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
	"lifebelt/journal"
)

func r3States(t *testing.T, s *engine.Session) string {
	t.Helper()
	es, err := s.Journal().Entries()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString(" ")
		b.WriteString(e.Kind + ":" + e.State)
	}
	return b.String()
}

// A forced undo of CREATE TABLE images the rows others put in (keptSink)
// and then runs DROP TABLE, which fails because someone's view depends on
// it: a conflict, the table stays. The images stay in the undo entry
// without the drop object that claims them; undoing that undo (which
// changed nothing) takes them for deleted rows and inserts them again.
func TestAlterReview3FailedForcedDropOrphanImages(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id int, v text)`)
	enginetest.ExecAll(t, db, `INSERT INTO n VALUES (1, 'x'), (2, 'y')`, `CREATE VIEW nv AS SELECT id FROM n`)
	rep := undoAll(t, s, engine.UndoOptions{Force: true})
	t.Logf("forced undo: conflicts %q entries %v forced %d", reasons(rep), rep.Entries, rep.Forced)
	if len(rep.Conflicts) != 1 || enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'n'`) != "1" {
		t.Fatalf("expected the DROP to fail as a conflict")
	}
	e, err := s.Journal().Entry(rep.Seq)
	if err != nil {
		t.Fatal(err)
	}
	// The rows imaged before the failed step are kept for people, under
	// an object that claims them ("keep"), never written back.
	objs, err := s.Journal().Objects(rep.Seq)
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, o := range objs {
		kept = kept || (o.Action == journal.ActionKeep && o.Table != 0)
	}
	if e.ImageCount != 0 && !kept {
		t.Errorf("the undo changed nothing, yet its entry holds %d images that no object keeps", e.ImageCount)
	}
	rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the undo: %v", err)
	}
	t.Logf("undo of the undo: conflicts %q entries %v rows %d", reasons(rep2), rep2.Entries, rep2.Rows)
	if rep2.Rows != 0 {
		t.Errorf("undo of the undo wrote %d rows", rep2.Rows)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || v, ',' ORDER BY id) FROM n`); got != "1x,2y" {
		t.Errorf("rows of n after undoing an undo that changed nothing: %s, want 1x,2y", got)
	}
}

// Undoing CREATE TABLE whose DROP fails (someone's view depends on the
// table; no rows, no force): a conflict, the table stays, yet the
// CREATE TABLE entry is reported undone and its state becomes "undone",
// so it can never be undone again (README: the DROP failing is a
// conflict; entries with nothing undone stay committed).
func TestAlterReview3FailedDropCreatedMarkedUndone(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	seqs := enginetest.CommitAll(t, s, `CREATE TABLE n (id int, v text)`)
	enginetest.ExecAll(t, db, `CREATE VIEW nv AS SELECT id FROM n`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'n'`) != "1" {
		t.Fatalf("expected the DROP to fail as a conflict: %q", reasons(rep))
	}
	if len(rep.Entries) != 0 {
		t.Errorf("nothing was undone (n is still there: %q), yet entries %v are reported undone; states:%s", reasons(rep), rep.Entries, r3States(t, s))
	}
	enginetest.ExecAll(t, db, `DROP VIEW nv`) // the conflict resolved
	rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs})
	if err != nil {
		t.Errorf("undoing CREATE TABLE once the conflict is resolved: %v", err)
	} else if enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'n'`) != "0" {
		t.Errorf("n still there: %q", reasons(rep2))
	}
}

// Undoing CREATE OR REPLACE VIEW that added a column, after someone else
// replaced the view again (adding another column): the view is no longer
// what the entry left. CREATE OR REPLACE with the old text fails, and the
// fallback drops and re-creates the view, throwing away someone's
// definition without a conflict; the undo entry records the session's
// definition as the one it replaced, so undoing the undo does not bring
// someone's definition back either.
func TestAlterReview3ReplaceViewOverwritesLaterReplace(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text, b text)`, `CREATE VIEW v AS SELECT id FROM t`)
	enginetest.CommitAll(t, s, `CREATE OR REPLACE VIEW v AS SELECT id, a FROM t`)
	enginetest.ExecAll(t, db, `CREATE OR REPLACE VIEW v AS SELECT id, a, b FROM t`) // someone's
	someone := enginetest.Joined(t, db, `SELECT pg_get_viewdef('v'::regclass)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	got := enginetest.Joined(t, db, `SELECT pg_get_viewdef('v'::regclass)`)
	t.Logf("undo: conflicts %q entries %v; v now: %s", reasons(rep), rep.Entries, got)
	if got != someone || len(rep.Conflicts) == 0 {
		t.Errorf("someone's later definition of v was replaced without a conflict:\nwas %s\nnow %s", someone, got)
	}
}

// The drop-and-create fallback of replace() runs only Before.Create: what
// PostgreSQL drops along with the view without complaint (its INSTEAD OF
// trigger, rules, grants, comment), and what the definition keeps in
// PostData, is gone after the undo, unjournaled.
func TestAlterReview3ReplaceViewDropLosesTriggerGrantComment(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text)`, `CREATE VIEW v AS SELECT id FROM t`,
		`CREATE FUNCTION vins() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO t (id) VALUES (NEW.id); RETURN NEW; END$$`,
		`CREATE TRIGGER vins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION vins()`,
		`COMMENT ON VIEW v IS 'the ids'`, `GRANT SELECT ON v TO PUBLIC`)
	attached := func() string {
		return enginetest.Joined(t, db, `SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'v'::regclass)::text || ' trigger(s), comment '
			|| coalesce(obj_description('v'::regclass, 'pg_class'), '-') || ', acl ' || coalesce((SELECT relacl::text FROM pg_class WHERE oid = 'v'::regclass), '-')`)
	}
	want := attached()
	enginetest.CommitAll(t, s, `CREATE OR REPLACE VIEW v AS SELECT id, a FROM t`)
	if got := attached(); got != want {
		t.Fatalf("CREATE OR REPLACE changed what is attached to v: %s", got)
	}
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	t.Logf("undo: conflicts %q skipped %q; v: %s", reasons(rep), rep.Skipped, enginetest.Joined(t, db, `SELECT pg_get_viewdef('v'::regclass)`))
	if got := attached(); got != want {
		t.Errorf("after undoing CREATE OR REPLACE VIEW (complete=%v): %s, want %s", rep.Complete(), got, want)
	}
}

// The same fallback for a function: CREATE OR REPLACE FUNCTION added a
// parameter default, which CREATE OR REPLACE cannot take away, so undo
// drops and re-creates the function, and the REVOKE EXECUTE ... FROM
// PUBLIC of its definition (PostData) is not run: everyone may execute it
// again.
func TestAlterReview3ReplaceFunctionDropRegrantsPublic(t *testing.T) {
	s, db := sessionOn(t, `CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a'`,
		`REVOKE EXECUTE ON FUNCTION f(int) FROM PUBLIC`, `COMMENT ON FUNCTION f(int) IS 'doubles nothing'`)
	acl := func() string {
		return enginetest.Joined(t, db, `SELECT coalesce(proacl::text, 'default') || ' ' || coalesce(obj_description(oid, 'pg_proc'), '-') || ' ' || pg_get_function_arguments(oid) FROM pg_proc WHERE proname = 'f'`)
	}
	want := acl()
	enginetest.CommitAll(t, s, `CREATE OR REPLACE FUNCTION f(a int DEFAULT 1) RETURNS int LANGUAGE sql AS 'SELECT a'`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	t.Logf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
	if got := acl(); got != want {
		t.Errorf("f after undoing CREATE OR REPLACE FUNCTION (complete=%v): %s, want %s", rep.Complete(), got, want)
	}
}

// A view depending on the replaced view makes the drop-and-create fail:
// a conflict, and the dependent view stays (fine). But the CREATE OR
// REPLACE entry, of which nothing was undone, is reported undone and its
// state becomes "undone" (v keeps the session's definition), so it
// cannot be undone once the conflict is resolved.
func TestAlterReview3ReplaceViewConflictMarkedUndone(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a text)`, `CREATE VIEW v AS SELECT id FROM t`)
	seqs := enginetest.CommitAll(t, s, `CREATE OR REPLACE VIEW v AS SELECT id, a FROM t`)
	enginetest.ExecAll(t, db, `CREATE VIEW w AS SELECT a FROM v`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if len(rep.Conflicts) != 1 || enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname IN ('v', 'w')`) != "2" {
		t.Fatalf("undo: conflicts %q; views %s", reasons(rep), enginetest.Joined(t, db, `SELECT string_agg(relname, ',') FROM pg_class WHERE relname IN ('v', 'w')`))
	}
	if len(rep.Entries) != 0 {
		t.Errorf("nothing was undone (%q), yet entries %v are reported undone; states:%s", reasons(rep), rep.Entries, r3States(t, s))
	}
	enginetest.ExecAll(t, db, `DROP VIEW w`) // the conflict resolved
	if _, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs}); err != nil {
		t.Errorf("undoing CREATE OR REPLACE VIEW once the conflict is resolved: %v", err)
	}
}

// Undoing CREATE TABLE of a table still empty, on which someone created an
// index since: DROP TABLE (RESTRICT) does not fail for the table's own
// index, trigger, policy or grant, so they go without a conflict and
// without being journaled (the undo entry records the definition the
// session created); undoing the undo re-creates the table without them.
func TestAlterReview3DropCreatedTakesSomeonesIndex(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id int, v text)`)
	enginetest.ExecAll(t, db, `CREATE INDEX someone ON n (v)`, `COMMENT ON TABLE n IS 'someone''s notes'`)
	rep := undoAll(t, s, engine.UndoOptions{})
	t.Logf("undo: conflicts %q entries %v", reasons(rep), rep.Entries)
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	got := enginetest.Joined(t, db, `SELECT coalesce((SELECT string_agg(indexrelid::regclass::text, ',') FROM pg_index WHERE indrelid = 'n'::regclass), '-') || ' ' || coalesce(obj_description('n'::regclass, 'pg_class'), '-')`)
	if got != "someone someone's notes" && len(rep.Conflicts) == 0 {
		t.Errorf("undo dropped n with someone's index and comment, without a conflict; after undoing the undo (%q): %s", reasons(rep2), got)
	}
}
