package postgres_test

import (
	"context"
	"lifebelt/engine"
	"testing"
	"time"

	"lifebelt/engine/enginetest"
)

// R5-1: keyed table whose key is not the identity column. replace()
// guards the DELETE with "no row has the before-image's key" - but the
// row itself has that key (the key did not change), so the script does
// nothing at all.
func TestReview5ScriptReplaceNonKeyIdentity(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE kn (k int PRIMARY KEY, id int GENERATED ALWAYS AS IDENTITY, v text)`,
		`INSERT INTO kn (k, v) VALUES (10, 'a')`)
	rvCommit(t, s, `UPDATE kn SET id = DEFAULT, v = 'b'`)
	script := r4Script(t, s)
	r4Run(t, db, script)
	if got := enginetest.Joined(t, db, `SELECT string_agg(k || '|' || id || '|' || v, ',') FROM kn`); got != "10|1|a" {
		t.Errorf("after the script kn = %q, want 10|1|a\n%s", got, script)
	}
}

// R5-2: a child row inserted since refers to the row by its new identity
// value, ON DELETE CASCADE. The script's DELETE of the parent cascades
// and silently deletes that child row (created after the journaled
// statement); an UPDATE of the key would have failed (NO ACTION on
// update) or, with ON UPDATE CASCADE, kept the child.
func TestReview5ScriptReplaceCascadesDelete(t *testing.T) {
	for _, upd := range []string{"", " ON UPDATE CASCADE"} {
		t.Run("upd"+upd, func(t *testing.T) {
			s, db := sessionOn(t,
				`CREATE TABLE kp (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`,
				`INSERT INTO kp (v) VALUES ('a')`)
			rvCommit(t, s, `UPDATE kp SET id = DEFAULT, v = 'b'`)
			script := r4Script(t, s)
			rvExec(t, db, `CREATE TABLE kc (n int PRIMARY KEY, pid int REFERENCES kp ON DELETE CASCADE`+upd+`)`,
				`INSERT INTO kc VALUES (7, 2)`)
			_, err := db.Exec(script)
			t.Logf("script: err=%v", err)
			if n := rvInt(t, db, `SELECT count(*) FROM kc`); n != 1 {
				t.Errorf("after the script kc has %d rows, want 1 (the child inserted since was deleted by the cascade); kp = %s",
					n, enginetest.Joined(t, db, `SELECT string_agg(id || '|' || v, ',') FROM kp`))
			}
		})
	}
}

// R5-3: keyed table whose identity column is not in the key, statement
// did not change it (UPDATE SET v). Undo still switches the column to BY
// DEFAULT and back (ACCESS EXCLUSIVE, owner needed): it waits for a mere
// reader - what R4-6 fixed for keyless tables only.
func TestReview5NonKeyIdentityUnchangedLocks(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE kn (k int PRIMARY KEY, id int GENERATED ALWAYS AS IDENTITY, v text)`,
		`INSERT INTO kn (k, v) VALUES (10, 'a')`)
	rvCommit(t, s, `UPDATE kn SET v = 'b'`)
	ctx := context.Background()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ExecContext(ctx, `BEGIN; SELECT count(*) FROM kn`); err != nil {
		t.Fatal(err)
	}
	defer b.ExecContext(ctx, `ROLLBACK`)
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	rep, err := s.Undo(tctx, engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo with a reader of kn open: %v %+v", err, rep)
	}
}

func TestReview5ScriptReplaceOtherUnique(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ku (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text UNIQUE)`,
		`INSERT INTO ku (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ku SET id = DEFAULT`)
	script := r4Script(t, s)
	r4Run(t, db, script)
	r4Run(t, db, script)
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || '|' || v, ',') FROM ku`); got != "1|a" {
		t.Errorf("got %q", got)
	}
}
