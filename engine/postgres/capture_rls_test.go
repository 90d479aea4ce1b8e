package postgres_test

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A statement that images every row of a table before destroying values
// (DROP TABLE, TRUNCATE, DROP COLUMN, ALTER COLUMN TYPE) fails, and
// changes nothing, where row-level security hides rows from the role
// running it (the owner, under FORCE ROW LEVEL SECURITY): before, the
// hidden rows' values were destroyed without an image. Undoing a DROP
// COLUMN imaged as a role that sees every row still works for that role.
func TestCaptureUnderForcedRowSecurity(t *testing.T) {
	role := "lb_rls_capture"
	s, db := sessionOn(t,
		`CREATE ROLE `+role,
		`CREATE TABLE r (id int PRIMARY KEY, v text, n int)`,
		`INSERT INTO r VALUES (1, 'one', 1), (2, 'hidden', 2)`,
		`CREATE TABLE open (id int PRIMARY KEY, v text)`, `INSERT INTO open VALUES (1, 'a'), (2, 'b')`,
		`ALTER TABLE r OWNER TO `+role, `ALTER TABLE open OWNER TO `+role,
		`ALTER TABLE r ENABLE ROW LEVEL SECURITY`, `ALTER TABLE r FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY p ON r USING (id <> 2)`,
		`GRANT USAGE, CREATE ON SCHEMA public TO `+role)
	t.Cleanup(func() { db.Exec(`DROP OWNED BY ` + role + ` CASCADE`); db.Exec(`DROP ROLE ` + role) })
	enginetest.CommitAll(t, s, `SET ROLE `+role)
	for _, q := range []string{`ALTER TABLE r DROP COLUMN v`, `ALTER TABLE r ALTER n TYPE bigint`, `TRUNCATE r`, `DROP TABLE r`} {
		p, err := s.Execute(context.Background(), q, engine.ExecuteOptions{Confirm: s.ConfirmName()})
		if err == nil {
			p.Rollback(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), "row-level security applies to this role there") {
			t.Errorf("%s under FORCE ROW LEVEL SECURITY: %v, want a refusal naming row-level security", q, err)
		}
	}
	if got := enginetest.Joined(t, db, `SELECT concat_ws('/', id, v, n) FROM r ORDER BY id`); got != "1/one/1,2/hidden/2" {
		t.Fatalf("rows after the refusals: %s", got)
	}
	// The same role on a table without row security: imaged, undone.
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE open DROP COLUMN v`)
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT concat_ws('/', id, v) FROM open ORDER BY id`); got != "1/a,2/b" {
		t.Errorf("rows after the undo: %s", got)
	}
}
