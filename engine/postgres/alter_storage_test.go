package postgres_test

import (
	"os"
	"os/exec"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// SET UNLOGGED, SET LOGGED and SET TABLESPACE are undone by their
// opposites, one entry at a time and all together, and undoing the undo
// sets them again; rows written since stay.
func TestUndoSetLoggedAndTablespace(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a')`)
	state := func() string {
		return enginetest.Joined(t, db, `SELECT c.relpersistence::text || '/' || coalesce(ts.spcname, 'default') FROM pg_class c
			LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace WHERE c.oid = 't'::regclass`)
	}
	steps := []string{`ALTER TABLE t SET UNLOGGED`}
	// A tablespace needs a directory the server owns; the test server is
	// local.
	dir, err := os.MkdirTemp("", "lb_ts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if exec.Command("chown", "postgres", dir).Run() == nil {
		if _, err := db.Exec(`CREATE TABLESPACE lb_undo_ts LOCATION '` + dir + `'`); err == nil {
			t.Cleanup(func() { db.Exec(`DROP TABLE IF EXISTS t`); db.Exec(`DROP TABLESPACE lb_undo_ts`) })
			steps = append(steps, `ALTER TABLE t SET TABLESPACE lb_undo_ts`)
		} else {
			t.Logf("no tablespace (%v): SET TABLESPACE not tested", err)
		}
	}
	steps = append(steps, `ALTER TABLE t SET LOGGED`)
	states := []string{state()}
	var seqs []int64
	for _, q := range steps {
		seqs = append(seqs, enginetest.CommitAll(t, s, q)...)
		states = append(states, state())
	}
	enginetest.ExecAll(t, db, `INSERT INTO t VALUES (2, 'since')`)
	for i := len(seqs) - 1; i >= 0; i-- {
		rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[i : i+1]})
		if !rep.Complete() {
			t.Fatalf("undo of %s: conflicts %v, skipped %v", steps[i], rep.Conflicts, rep.Skipped)
		}
		if got := state(); got != states[i] {
			t.Fatalf("after undoing %s: %s, want %s", steps[i], got, states[i])
		}
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || v, ',' ORDER BY id) FROM t`); got != "1a,2since" {
		t.Errorf("rows: %s", got)
	}
}
