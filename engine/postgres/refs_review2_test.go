package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// Second review of the undo reference check and of undo at READ
// COMMITTED on PostgreSQL.

// rv2RoleSession creates a fresh database, runs setup there as the
// superuser, creates a LOGIN role (grants with {role} replaced by its
// name) and opens an engine session as that role. The role is dropped
// before the database.
func rv2RoleSession(t *testing.T, setup []string, grants ...string) (*engine.Session, *sql.DB, string) {
	t.Helper()
	ctx := context.Background()
	target := harness.NewTarget(t)
	db := harness.Open(t, target)
	var b [4]byte
	rand.Read(b[:])
	role := "lb_rv2_" + hex.EncodeToString(b[:])
	enginetest.ExecAll(t, db, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		db.Exec("REVOKE SET ON PARAMETER session_replication_role FROM " + role)
		db.Exec("DROP OWNED BY " + role)
		if _, err := db.Exec("DROP ROLE " + role); err != nil {
			t.Errorf("DROP ROLE %s: %v", role, err)
		}
	})
	enginetest.ExecAll(t, db, setup...)
	for _, g := range grants {
		enginetest.ExecAll(t, db, strings.ReplaceAll(g, "{role}", role))
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	tg, err := engine.ParseTarget(u.String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := engine.Open(ctx, tg, engine.Options{JournalPath: filepath.Join(t.TempDir(), "j.lifebelt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db, role
}

// (1) Undo of CREATE TABLE on PostgreSQL: dropCreated only refuses to
// drop a table others have filled when the Applier is a RowCounter, and
// pgTx does not implement CountRows. The undo drops the table with the
// rows another session committed into it, and reports no conflict.
func TestReview2DropCreatedTableKeepsOthersRows(t *testing.T) {
	s, db := sessionOn(t)
	rvCommit(t, s, `CREATE TABLE made (id int PRIMARY KEY, v text)`)
	rvExec(t, db, `INSERT INTO made VALUES (1, 'someone else''s row')`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("conflicts %v, notes %q", rep.Conflicts, rep.Notes)
	if rvInt(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'made'`) == 0 {
		t.Errorf("the undo dropped table made and the row another session put into it (conflicts reported: %d)", len(rep.Conflicts))
	}
}

// (2a) A foreign key declared on one partition only. Undo moves a row of
// the partitioned table back into that partition (its partition key
// changes, its foreign-key value does not): track() sees the same value
// before and after, records nothing as written, and the row lands in a
// partition whose key refers to a parent row deleted meanwhile.
// PostgreSQL's own UPDATE would have been refused.
func TestReview2RowMovedIntoPartitionWithOwnKey(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE par (id int PRIMARY KEY)`,
		`CREATE TABLE cp (id int, r int, pid int, PRIMARY KEY (id, r)) PARTITION BY LIST (r)`,
		`CREATE TABLE cp1 PARTITION OF cp FOR VALUES IN (1)`,
		`CREATE TABLE cp2 PARTITION OF cp FOR VALUES IN (2)`,
		`ALTER TABLE cp2 ADD FOREIGN KEY (pid) REFERENCES par`,
		`INSERT INTO par VALUES (7)`, `INSERT INTO cp VALUES (1, 2, 7)`)
	rvCommit(t, s, `UPDATE cp SET r = 1 WHERE id = 1`)
	rvExec(t, db, `DELETE FROM par WHERE id = 7`)
	// PostgreSQL refuses the same move:
	if _, err := db.Exec(`BEGIN; UPDATE cp SET r = 2 WHERE id = 1; ROLLBACK`); err == nil {
		t.Fatalf("PostgreSQL accepted the move")
	} else {
		db.Exec(`ROLLBACK`)
		t.Logf("PostgreSQL refuses the same move: %v", err)
	}
	rvWantRefused(t, s, db, `SELECT count(*) FROM cp2 WHERE NOT EXISTS (SELECT 1 FROM par WHERE par.id = cp2.pid)`)
}

// (2b) The referenced side: a foreign key refers to one partition (a
// unique index of its own), and undo moves the referenced row out of that
// partition. The key value is the same before and after, so nothing is
// recorded as removed and ch is left referring to nothing.
func TestReview2RowMovedOutOfReferencedPartition(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE pp (id int, r int, PRIMARY KEY (id, r)) PARTITION BY LIST (r)`,
		`CREATE TABLE pp1 PARTITION OF pp FOR VALUES IN (1)`,
		`CREATE TABLE pp2 PARTITION OF pp FOR VALUES IN (2)`,
		`CREATE UNIQUE INDEX ON pp1 (id)`,
		`CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES pp1 (id))`,
		`INSERT INTO pp VALUES (5, 2)`)
	rvCommit(t, s, `UPDATE pp SET r = 1 WHERE id = 5`)
	rvExec(t, db, `INSERT INTO ch VALUES (1, 5)`)
	rvWantRefused(t, s, db, `SELECT count(*) FROM ch WHERE NOT EXISTS (SELECT 1 FROM pp1 WHERE pp1.id = ch.pid)`)
}

// (2c) Without the replica role: a foreign key with ON DELETE CASCADE
// declared on a partition, the undo writing through the partitioned
// table. countOwn files the undo's own deletes under "cp", qActionRows
// looks for them under the tree of "cp1" only: the undo's own delete of
// its own child row counts as an action and the undo is refused,
// although nothing but its own rows changed.
func TestReview2NoReplicaOwnDeletesInPartition(t *testing.T) {
	s, db, _ := rv2RoleSession(t, []string{
		`CREATE TABLE par (id int PRIMARY KEY)`,
		`CREATE TABLE cp (id int PRIMARY KEY, pid int) PARTITION BY RANGE (id)`,
		`CREATE TABLE cp1 PARTITION OF cp FOR VALUES FROM (0) TO (100)`,
		`ALTER TABLE cp1 ADD FOREIGN KEY (pid) REFERENCES par ON DELETE CASCADE`,
	}, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}`)
	rvCommit(t, s, `INSERT INTO par VALUES (1); INSERT INTO cp VALUES (10, 1)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("notes %q", rep.Notes)
	if n := rvInt(t, db, `SELECT (SELECT count(*) FROM par) + (SELECT count(*) FROM cp)`); n != 0 {
		t.Errorf("%d rows left", n)
	}
}

// (2d) Without the replica role the only guard against foreign-key
// actions is the transaction's change counters, which stay at zero when
// track_counts is off (a server setting; here per database). The undo of
// a parent INSERT then goes through and ON DELETE CASCADE silently
// deletes a child row another session added, which it never imaged.
func TestReview2NoReplicaTrackCountsOff(t *testing.T) {
	s, db, _ := rv2RoleSession(t, []string{
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE)`,
		`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_counts = off', current_database()); END $$`,
	}, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}`)
	rvCommit(t, s, `INSERT INTO p VALUES (1)`)
	rvExec(t, db, `INSERT INTO c VALUES (10, 1)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err == nil {
		t.Logf("undo went through: notes %q", rep.Notes)
	} else {
		t.Logf("undo: %v", err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c`); n != 1 {
		t.Errorf("the undo deleted another session's child row (ON DELETE CASCADE) without imaging it: c has %d rows", n)
	}
}

// (2e) A role allowed to set session_replication_role (PostgreSQL 15:
// GRANT SET ON PARAMETER) that may write c but only read p, as a
// foreign key needs. PostgreSQL lets it insert a row of c referring to p
// (the trigger runs as the owner), but the check's FOR KEY SHARE of p
// needs UPDATE on p: the undo of its own DELETE is refused, saying why.
func TestReview2ReplicaRoleWithoutUpdateOnParent(t *testing.T) {
	s, db, _ := rv2RoleSession(t, []string{
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO c VALUES (10, 1)`,
	}, `GRANT SELECT ON p TO {role}`, `GRANT SELECT, INSERT, UPDATE, DELETE ON c TO {role}`,
		`GRANT SET ON PARAMETER session_replication_role TO {role}`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 10`)
	_, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err == nil || !strings.Contains(err.Error(), "FOR KEY SHARE, which needs UPDATE on that table") {
		t.Fatalf("Undo: %v; want a refusal naming the privilege", err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c`); n != 0 {
		t.Errorf("c has %d rows after the refused undo, want 0", n)
	}
}

// (2f) A foreign-key column added since the entry, with a default: undo
// puts the row back, the server fills in the default, which refers to no
// row of p: undo cannot check that, and refuses.
func TestReview2AddedForeignKeyColumnWithDefault(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, v text)`,
		`INSERT INTO c VALUES (1, 'a')`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 1`)
	rvExec(t, db, `ALTER TABLE c ADD COLUMN pid int NOT NULL DEFAULT 1 REFERENCES p`)
	if _, err := db.Exec(`INSERT INTO c (id, v) VALUES (2, 'b')`); err == nil {
		t.Fatal("PostgreSQL accepted the row")
	} else {
		t.Logf("PostgreSQL refuses the same row: %v", err)
	}
	_, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err == nil || !strings.Contains(err.Error(), "which has a default") {
		t.Fatalf("Undo: %v; want it refused for the added column's default", err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)`); n != 0 {
		t.Errorf("%d rows of c refer to nothing", n)
	}
}

// (2g) Without the replica role, a DEFERRABLE INITIALLY DEFERRED key with
// ON DELETE CASCADE lets one entry insert the child before its parent.
// Undo goes newest first, deletes the parent first, the cascade (never
// deferred) deletes the child the undo was about to delete itself, and
// actionsFired counts that delete as someone else's row: refused, though
// the undo would leave exactly the state before the entry. A known, safe
// limit (README): the refusal changes nothing.
func TestReview2NoReplicaDeferredCascadeOwnChild(t *testing.T) {
	s, db, _ := rv2RoleSession(t, []string{
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)`,
	}, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}`)
	rvCommit(t, s, `INSERT INTO c VALUES (10, 1); INSERT INTO p VALUES (1)`)
	_, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err == nil || !strings.Contains(err.Error(), "ON DELETE or ON UPDATE action") {
		t.Fatalf("Undo: %v; want the known refusal", err)
	}
	if n := rvInt(t, db, `SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c)`); n != 2 {
		t.Errorf("%d rows left after the refused undo, want 2", n)
	}
}

// OK: a parent key changed by another session, uncommitted while the
// undo's check locks the parent of the child it put back, committed
// after: the lock waits, re-reads the new version and the undo is
// refused (READ COMMITTED follows the update chain).
func TestReview2OKConcurrentParentKeyUpdate(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON UPDATE CASCADE)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO c VALUES (10, 1)`,
		`CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4243); RETURN NULL; END $$`,
		`CREATE TRIGGER pause AFTER INSERT ON c FOR EACH ROW EXECUTE FUNCTION pause()`,
		`ALTER TABLE c ENABLE ALWAYS TRIGGER pause`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 10`)
	ctx := context.Background()
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_lock(4243)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Undo(ctx, engine.UndoOptions{}); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undo never reached the trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	y, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.Exec(`UPDATE p SET id = 2 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	hold.ExecContext(ctx, `SELECT pg_advisory_unlock(4243)`)
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undo's check never waited for the parent row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := y.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Errorf("Undo: %v; want *engine.ReferenceError", err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)`); n != 0 {
		t.Errorf("%d orphans", n)
	}
}

// (2h) The foreign keys of a table are read once, at its first batch
// (fkUses, before any write), and cached for the undo. At READ COMMITTED
// a key added meanwhile by another session is seen by nothing: here the
// undo first only Fetches p (a conflict: ROW SHARE, which ADD FOREIGN KEY
// does not wait for), a key c -> p is added and validated while the undo
// is busy elsewhere, then the undo deletes p's row 2, unchecked, and
// commits c's row referring to nothing.
func TestReview2ForeignKeyAddedDuringUndo(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY, v text)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int)`,
		`CREATE TABLE q (id int PRIMARY KEY)`,
		`INSERT INTO p VALUES (1, 'a')`,
		`CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4244); RETURN NULL; END $$`,
		`CREATE TRIGGER pause AFTER DELETE ON q FOR EACH ROW EXECUTE FUNCTION pause()`,
		`ALTER TABLE q ENABLE ALWAYS TRIGGER pause`)
	rvCommit(t, s, `INSERT INTO p VALUES (2, 'b')`)
	rvCommit(t, s, `INSERT INTO q VALUES (1)`)
	rvCommit(t, s, `UPDATE p SET v = 'x' WHERE id = 1`)
	rvExec(t, db, `UPDATE p SET v = 'someone' WHERE id = 1`, `INSERT INTO c VALUES (10, 2)`)
	ctx := context.Background()
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_lock(4244)`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		rep *engine.UndoReport
		err error
	}
	done := make(chan result, 1)
	go func() { rep, err := s.Undo(ctx, engine.UndoOptions{}); done <- result{rep, err} }()
	deadline := time.Now().Add(10 * time.Second)
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undo never reached the trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rvExec(t, db, `ALTER TABLE c ADD FOREIGN KEY (pid) REFERENCES p`) // validated: p's row 2 is there
	hold.ExecContext(ctx, `SELECT pg_advisory_unlock(4244)`)
	r := <-done
	if r.err == nil {
		t.Logf("undo committed: %d rows, conflicts %v", r.rep.Rows, r.rep.Conflicts)
	} else {
		t.Logf("undo: %v", r.err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)`); n != 0 {
		t.Errorf("after the undo %d row(s) of c refer to a row of p that does not exist", n)
	}
}
