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
