package postgres

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
)

// TestPrepareUndoLocksBeforeSnapshot: under the replica role, PrepareUndo
// locks the tables foreign keys refer to (EXCLUSIVE: a session adding a
// referring row must wait for the undo to end) before the transaction's
// snapshot is taken, so that no referring row can be committed unseen by
// the reference check. Tables nothing refers to are not locked.
func TestPrepareUndoLocksBeforeSnapshot(t *testing.T) {
	ctx := context.Background()
	c := inspectConn(t)
	s := inspectSchema(t, c)
	var super bool
	c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super)
	if !super {
		t.Skip("the test role is not a superuser")
	}
	execAll(t, c, inSchema(s, `CREATE TABLE @.parent (id int PRIMARY KEY)`),
		inSchema(s, `CREATE TABLE @.child (pid int REFERENCES @.parent)`),
		inSchema(s, `CREATE TABLE @.other (id int)`))
	uc := inspectConn(t)
	cn := &conn{pg: uc}
	x := &pgTx{c: cn, tx: &beginTx{c: cn}}
	defer x.tx.Rollback(ctx)
	notes, err := x.PrepareUndo(ctx, []engine.Name{{Schema: s, Name: "child"}, {Schema: s, Name: "parent"}, {Schema: s, Name: "other"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "locked ") || !strings.Contains(n, ".parent (EXCLUSIVE") {
		t.Errorf("the notes do not name the locked table: %q", notes)
	}
	locks := func(table string) string {
		var modes string
		if err := c.QueryRow(ctx, "SELECT coalesce(string_agg(mode, ',' ORDER BY mode), '') FROM pg_locks WHERE relation = $1::regclass AND pid = $2",
			quoteQualified(s, table), uc.PgConn().PID()).Scan(&modes); err != nil {
			t.Fatal(err)
		}
		return modes
	}
	if got := locks("parent"); got != "ExclusiveLock" {
		t.Errorf("the undo holds %q on the referenced table, want ExclusiveLock", got)
	}
	if got := locks("child") + locks("other"); got != "" {
		t.Errorf("the undo holds %q on tables nothing refers to, want nothing", got)
	}
	// The snapshot comes after the lock: a row committed now is seen.
	execAll(t, c, inSchema(s, `INSERT INTO @.other VALUES (1)`))
	var n int
	if err := x.tx.QueryRow(ctx, inSchema(s, `SELECT count(*) FROM @.other`)).Scan(&n); err != nil || n != 1 {
		t.Errorf("the undo's transaction sees %d rows committed after PrepareUndo (%v), want 1: its snapshot was taken before the lock", n, err)
	}
}
