package postgres_test

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A type change undone from the images is a conflict, and changes
// nothing, where a value written since does not cast back; a key column's
// lossy change is left to people, and says why.
func TestUndoAlterColumnTypeFromImagesConflicts(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE c (id int PRIMARY KEY, v numeric(6,2))`, `INSERT INTO c VALUES (1, 1.25)`,
		`CREATE TABLE k (id numeric(5,1) PRIMARY KEY, v int)`, `INSERT INTO k VALUES (1.5, 1)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE c ALTER v TYPE text`)
	enginetest.ExecAll(t, db, `INSERT INTO c VALUES (2, 'abc')`)
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "invalid input syntax for type numeric") {
		t.Fatalf("undo with a value that does not cast back: conflicts %+v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, columnsOf, "c"); got != "id:integer,v:text" {
		t.Errorf("columns after the conflict: %s", got)
	}
	enginetest.ExecAll(t, db, `DELETE FROM c WHERE id = 2`)
	if rep := undoAll(t, s, engine.UndoOptions{Entries: seqs}); !rep.Complete() {
		t.Fatalf("undo once the value is gone: conflicts %+v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT v::text FROM c`); got != "1.25" {
		t.Errorf("v after undo: %s", got)
	}

	p, err := s.Execute(context.Background(), `ALTER TABLE k ALTER id TYPE int`, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Fatal(err)
	}
	warn := strings.Join(p.Statements[0].Warnings, " ")
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn, "does not undo this change automatically") || !strings.Contains(warn, "part of the key") {
		t.Errorf("a key column's lossy type change: warnings %q", warn)
	}
}
