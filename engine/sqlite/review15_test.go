package sqlite_test

// Review 15: commit bca767d, engine/sqlite/destroys.go.
// Run: go test ./engine/sqlite/ -run TestReview15 -count=1

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// bca767d names ON DELETE actions "for DELETE only", on SQLite too. But
// on SQLite (foreign keys on) DROP TABLE runs an implicit DELETE FROM
// first, which fires the ON DELETE actions: the child's rows are deleted
// (CASCADE) or changed (SET NULL). The refusal now says only "a foreign
// key of c references it", hiding that the DROP destroys c's rows.
//
//	CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p INT REFERENCES p ON DELETE CASCADE); rows
//	lifebelt exec ... -c "DROP TABLE p"
//
// What happens: no word of c's rows; confirmed, the DROP empties c.
// Expected: "(ON DELETE CASCADE: deleting its rows deletes theirs)" or
// similar for DROP TABLE on SQLite, as before bca767d.
func TestReview15DropTableHidesOnDeleteCascade(t *testing.T) {
	s, db := enginetest.SessionOn(t, harness, `CREATE TABLE p (id INTEGER PRIMARY KEY)`, `INSERT INTO p VALUES (1), (2)`,
		`CREATE TABLE c (id INTEGER PRIMARY KEY, p INT REFERENCES p ON DELETE CASCADE)`, `INSERT INTO c VALUES (10, 1), (11, 2)`)
	_, err := s.Execute(context.Background(), `DROP TABLE p`, engine.ExecuteOptions{})
	var ce *engine.ConfirmationError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConfirmationError, got %v", err)
	}
	enginetest.CommitAll(t, s, `DROP TABLE p`)
	left := enginetest.Joined(t, db, `SELECT count(*) FROM c`)
	if left != "2" && !strings.Contains(ce.Error(), "CASCADE") {
		t.Errorf("DROP TABLE p left %s of c's 2 rows; the refusal said %q", left, ce.Destroys)
	}
}
