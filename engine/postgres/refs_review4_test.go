package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

func r4Script(t *testing.T, s *engine.Session) string {
	t.Helper()
	d, _ := engine.Lookup("postgres")
	var buf bytes.Buffer
	if err := engine.WriteUndoScript(s.Journal(), d.(engine.Scripter), nil, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func r4Run(t *testing.T, db *sql.DB, script string) {
	t.Helper()
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("running the undo script: %v\n%s", err, script)
	}
}

const r4Dump = `SELECT string_agg(id || '|' || v, ',' ORDER BY id) FROM ki`

// R4-1: keyed table, the statement changed the GENERATED ALWAYS identity
// key (SET id = DEFAULT). The script sets id back to 1; the interactive
// undo skips the key column ("the value is the same before and after")
// and leaves id = 2 while reporting the undo complete.
func TestReview4KeyedIdentityChangedInteractive(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET id = DEFAULT, v = 'b'`)
	t.Logf("after update: %s", enginetest.Joined(t, db, r4Dump))
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo: %v %+v", err, rep)
	}
	if got := enginetest.Joined(t, db, r4Dump); got != "1|a" {
		t.Errorf("after undo ki = %q, want 1|a (the script gives 1|a)", got)
	}
}

// R4-2: keyed, identity changed, the row changed by someone else since.
// The DELETE (guarded by the whole after-image) matches nothing, but the
// INSERT is guarded only by "no row with the old key", so the before-image
// is inserted next to the changed row: a second row appears.
func TestReview4ScriptReplaceChangedSinceKeyed(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET id = DEFAULT, v = 'b'`)
	script := r4Script(t, s)
	rvExec(t, db, `UPDATE ki SET v = 'c' WHERE id = 2`)
	r4Run(t, db, script)
	if got := enginetest.Joined(t, db, r4Dump); got != "2|c" {
		t.Errorf("after the script ki = %q, want 2|c (changed since: left alone)\n%s", got, script)
	}
}

// R4-3: keyed, identity changed, the old identity value taken since by
// another row. The DELETE removes the updated row, the INSERT is skipped
// (old key exists): the row is lost.
func TestReview4ScriptReplaceOldKeyTaken(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET id = DEFAULT, v = 'b'`)
	script := r4Script(t, s)
	rvExec(t, db, `INSERT INTO ki OVERRIDING SYSTEM VALUE VALUES (1, 'z')`)
	// The script sets the key back in place, as undo does: the taken key
	// makes it fail, loudly, and its transaction changes nothing.
	if _, err := db.Exec(script); err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("running the undo script: %v; want it to fail on the taken key", err)
	}
	if got := enginetest.Joined(t, db, r4Dump); got != "1|z,2|b" {
		t.Errorf("after the script ki = %q, want 1|z,2|b (conflict: nothing changed)\n%s", got, script)
	}
}

// R4-4: keyless, identity changed, row changed since: the marker-guarded
// INSERT runs although the DELETE found nothing: a row is added.
func TestReview4ScriptReplaceChangedSinceKeyless(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET id = DEFAULT, v = 'b'`)
	script := r4Script(t, s)
	rvExec(t, db, `UPDATE ki SET v = 'c'`)
	r4Run(t, db, script)
	r4Run(t, db, script)
	if got := enginetest.Joined(t, db, r4Dump); got != "2|c" {
		t.Errorf("after the script ki = %q, want 2|c (changed since: left alone)\n%s", got, script)
	}
}

// r4WaitBlocked waits until some session waits for a lock on table rel.
func r4WaitBlocked(t *testing.T, db *sql.DB, rel string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE relation = '`+rel+`'::regclass AND NOT granted`) > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("nobody waited for a lock on %s", rel)
}

// R4-5: u.ddl is keyed by the lower-case name alone. The undo re-creates
// an unrelated table public.c (entry 2); while it waits to delete p's row
// 2 (entry 1), after it has read p's foreign keys, another session adds
// a foreign key s2.c (pid) REFERENCES p; s2.c holds a row with pid 2. The final re-read of
// p's keys finds s2.c → p, but skips it because "c" is in u.ddl; the undo
// commits and leaves s2.c's row referring to nothing.
func TestReview4DDLNameSkipsNewKey(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE SCHEMA s2`,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (x int)`,
		`CREATE TABLE s2.c (pid int)`,
		`INSERT INTO p VALUES (1)`)
	rvCommit(t, s, `INSERT INTO p VALUES (2)`)
	rvExec(t, db, `INSERT INTO s2.c VALUES (2)`)
	rvCommit(t, s, `DROP TABLE c`)
	ctx := context.Background()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ExecContext(ctx, `BEGIN; LOCK TABLE p IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	type res struct {
		rep *engine.UndoReport
		err error
	}
	done := make(chan res, 1)
	go func() {
		rep, err := s.Undo(ctx, engine.UndoOptions{})
		done <- res{rep, err}
	}()
	r4WaitBlocked(t, db, "p")
	if _, err := b.ExecContext(ctx, `ALTER TABLE s2.c ADD FOREIGN KEY (pid) REFERENCES p; COMMIT`); err != nil {
		t.Fatal(err)
	}
	r := <-done
	t.Logf("undo: %v complete=%v", r.err, r.err == nil && r.rep.Complete())
	if n := rvInt(t, db, `SELECT count(*) FROM s2.c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = s2.c.pid)`); n != 0 {
		t.Errorf("after the undo %d row(s) of s2.c refer to a row of p that does not exist", n)
	}
}

// R4-6: keyless table, identity NOT changed by the statement. Undo now
// switches the identity column to BY DEFAULT and back (ALTER TABLE:
// ACCESS EXCLUSIVE lock, and table ownership) although the value is the
// same: it waits for a mere reader of the table.
func TestReview4KeylessIdentityUnchangedLocks(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET v = 'b'`)
	ctx := context.Background()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ExecContext(ctx, `BEGIN; SELECT count(*) FROM ki`); err != nil {
		t.Fatal(err)
	}
	defer b.ExecContext(ctx, `ROLLBACK`)
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	rep, err := s.Undo(tctx, engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo with a reader of ki open: %v %+v", err, rep)
	}
}
