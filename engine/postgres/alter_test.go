package postgres_test

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

func undoAll(t *testing.T, s *engine.Session, opt engine.UndoOptions) *engine.UndoReport {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	if err != nil {
		t.Fatalf("Undo(%+v): %v", opt, err)
	}
	return rep
}

const columnsOf = `SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
	FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`

// Renaming a constraint, and a table in a schema off the search_path, is
// undone; so are several columns added by one statement, and ADD COLUMN IF
// NOT EXISTS of a column that was there drops nothing.
func TestUndoAlterRenamesAndAdds(t *testing.T) {
	s, db := sessionOn(t, `CREATE SCHEMA "Side"`,
		`CREATE TABLE "Side"."T" (id int PRIMARY KEY, v text CONSTRAINT v_long CHECK (length(v) < 10), keep int)`,
		`INSERT INTO "Side"."T" VALUES (1, 'a', 1), (2, 'b', 2)`)
	before := enginetest.Joined(t, db, columnsOf, `"Side"."T"`)
	cons := enginetest.Joined(t, db, `SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = '"Side"."T"'::regclass`)
	enginetest.CommitAll(t, s,
		`ALTER TABLE "Side"."T" RENAME CONSTRAINT v_long TO "V short"`,
		`ALTER TABLE "Side"."T" ADD COLUMN a int, ADD COLUMN "B" text DEFAULT 'it''s', ADD COLUMN IF NOT EXISTS keep int`,
		`ALTER TABLE "Side"."T" RENAME TO "U"`)
	if got := enginetest.Joined(t, db, columnsOf, `"Side"."U"`); got != before+",a:integer,B:text" {
		t.Fatalf("columns after the ALTERs: %s", got)
	}
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo incomplete: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, columnsOf, `"Side"."T"`); got != before {
		t.Errorf("columns after undo: %s, want %s", got, before)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = '"Side"."T"'::regclass`); got != cons {
		t.Errorf("constraints after undo: %s, want %s", got, cons)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || '/' || keep, ',' ORDER BY id) FROM "Side"."T"`); got != "1/1,2/2" {
		t.Errorf("rows after undo: %s", got)
	}
}

// A column filled from a volatile default (or an identity) holds values
// Lifebelt cannot tell from values written since: undo leaves it as a
// conflict, and drops it only when forced. A constant default is compared.
func TestUndoAlterAddColumnDefaults(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2), (3)`)
	seqs := enginetest.CommitAll(t, s,
		`ALTER TABLE t ADD COLUMN r float8 DEFAULT random()`,
		`ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY`,
		`ALTER TABLE t ADD COLUMN c numeric(5,2) DEFAULT 1.5`,
		`ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED`)
	rep := undoAll(t, s, engine.UndoOptions{DryRun: true})
	var reasons []string
	for _, c := range rep.Conflicts {
		reasons = append(reasons, c.Reason)
	}
	// Newest first: g and c go, n is a conflict, and r then meets a table
	// that still has n.
	if len(reasons) != 2 || !strings.Contains(reasons[0], "3 row(s)") || !strings.Contains(reasons[0], "an identity") || !strings.Contains(reasons[1], "definition changed") {
		t.Fatalf("dry run: conflicts %q, want the identity's and then a changed definition", reasons)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[1:2], DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "definition changed") {
		t.Fatalf("undo of n alone, with c and g added since: conflicts %v, want a changed definition", rep.Conflicts)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[3:4]})
	if !rep.Complete() {
		t.Fatalf("undo of the generated column: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	// The constant default is compared: a row changed since stops it.
	enginetest.ExecAll(t, db, `UPDATE t SET c = 2 WHERE id = 3`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[2:3], DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 row(s)") || !strings.Contains(rep.Conflicts[0].Reason, "(1.5)") {
		t.Fatalf("undo of the constant default after a change: conflicts %v", rep.Conflicts)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:1], DryRun: true, Force: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "definition changed") {
		t.Fatalf("forced undo of r alone, with n and c added since: conflicts %v, want a changed definition (force does not override it)", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE t SET c = 1.50 WHERE id = 3`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:3], Force: true})
	if len(rep.Conflicts) != 0 || rep.Forced != 6 {
		t.Fatalf("forced undo: conflicts %v, forced %d, want none and 6 (3 rows each of r and n)", rep.Conflicts, rep.Forced)
	}
	if got := enginetest.Joined(t, db, columnsOf, "t"); got != "id:integer" {
		t.Errorf("columns after the forced undo: %s", got)
	}
}

// An ALTER Lifebelt does not revert is skipped with a note, and the rest
// of the session is undone around it.
func TestUndoAlterSkipsOthers(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1)`, `CREATE TABLE p (id int, v int)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t INHERIT p`, `UPDATE t SET v = 2`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "does not undo automatically") || len(rep.Conflicts) != 0 {
		t.Fatalf("undo: skipped %q, conflicts %v", rep.Skipped, rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT v FROM t`); got != "1" {
		t.Errorf("v after undo = %s, want 1", got)
	}
}
