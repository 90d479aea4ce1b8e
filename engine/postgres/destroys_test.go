package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A destructive statement refused for want of the confirmation says what
// it would destroy without waiting on a table another session holds
// locked: its rows are not counted, and the refusal says why.
func TestConfirmationDoesNotWaitOnLocks(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE l (id int PRIMARY KEY)`, `INSERT INTO l VALUES (1)`)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`LOCK TABLE l IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// Were the count to wait for the lock, this would never return: the
	// lock is held by this goroutine's transaction.
	_, err = s.Execute(ctx, `DELETE FROM l`, engine.ExecuteOptions{})
	var ce *engine.ConfirmationError
	if !errors.As(err, &ce) {
		t.Fatalf("DELETE without WHERE: %v", err)
	}
	if got := strings.Join(ce.Destroys, "; "); !strings.Contains(got, "table public.l (its rows not counted: another session holds it locked)") {
		t.Errorf("the refusal says %q", got)
	}
	tx.Rollback()
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM l`); got != "1" {
		t.Errorf("rows: %s", got)
	}
}

// The refusal says what DROP and TRUNCATE do to what depends on the
// table: with CASCADE, the view is dropped and the referencing table
// emptied; without, the statement fails. ON DELETE actions matter to
// DELETE only.
func TestConfirmationSaysConsequences(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE p (id int PRIMARY KEY)`, `CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE)`,
		`CREATE VIEW v AS SELECT * FROM p`, `INSERT INTO p VALUES (1)`)
	for q, want := range map[string][]string{
		`DROP TABLE p`:         {"view public.v uses it, so the DROP fails without CASCADE", "references it, so the DROP fails without CASCADE"},
		`DROP TABLE p CASCADE`: {"view public.v uses it and is dropped with it (CASCADE)", "references it and is dropped (CASCADE; the rows of its table stay)"},
		`TRUNCATE p CASCADE`:   {"foreign key c_pid_fkey of public.c references it, and TRUNCATE ... CASCADE empties table public.c with 0 row(s) too"},
		`DELETE FROM p`:        {"references it (ON DELETE CASCADE: deleting its rows deletes theirs)"},
	} {
		_, err := s.Execute(context.Background(), q, engine.ExecuteOptions{})
		var ce *engine.ConfirmationError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: %v", q, err)
		}
		got := strings.Join(ce.Destroys, "; ")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: the refusal says %q, want %q", q, got, w)
			}
		}
		if q != `DELETE FROM p` && strings.Contains(got, "ON DELETE") {
			t.Errorf("%s: the refusal names an ON DELETE action: %q", q, got)
		}
	}
}
