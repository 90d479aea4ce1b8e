package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"lifebelt/engine"
)

// Review tests for the reference check of undo (refs.go, undo_refs.go).

func rvCommit(t *testing.T, s *engine.Session, q string) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Fatalf("Execute(%s): %v", q, err)
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatalf("Commit(%s): %v", q, err)
	}
}

func rvExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func rvInt(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// rvWantRefused: the undo must be refused with a *engine.ReferenceError;
// orphans counts the rows that refer to nothing afterwards.
func rvWantRefused(t *testing.T, s *engine.Session, db *sql.DB, orphans string) {
	t.Helper()
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Errorf("Undo = %+v, %v; want it refused (*engine.ReferenceError)", rep, err)
	} else {
		t.Logf("refused as expected: %v", err)
	}
	if n := rvInt(t, db, orphans); n != 0 {
		t.Errorf("after the undo %d row(s) refer to a row that does not exist", n)
	}
}

// A foreign key may refer to a partition directly. The journal names the
// partitioned table the statement wrote (pp), and qForeignKeys/qReferenced
// only climb to ancestors, so the key on the partition pp1 is not seen:
// the undo deletes the referenced row and leaves ch's row dangling.
func TestReviewRefsPartitionReferencedDirectly(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE pp (id int PRIMARY KEY) PARTITION BY RANGE (id)`,
		`CREATE TABLE pp1 PARTITION OF pp FOR VALUES FROM (0) TO (100)`,
		`CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES pp1 (id))`)
	rvCommit(t, s, `INSERT INTO pp VALUES (5)`)
	rvExec(t, db, `INSERT INTO ch VALUES (1, 5)`)
	rvWantRefused(t, s, db, `SELECT count(*) FROM ch WHERE NOT EXISTS (SELECT 1 FROM pp1 WHERE pp1.id = ch.pid)`)
}

// A foreign key declared on one partition of a partitioned table (not on
// the partitioned table) is not seen when the journal names the
// partitioned table: the undo puts back a row whose parent is gone.
func TestReviewRefsForeignKeyOnPartition(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE par (id int PRIMARY KEY)`,
		`CREATE TABLE cp (id int PRIMARY KEY, pid int) PARTITION BY RANGE (id)`,
		`CREATE TABLE cp1 PARTITION OF cp FOR VALUES FROM (0) TO (100)`,
		`ALTER TABLE cp1 ADD FOREIGN KEY (pid) REFERENCES par`,
		`INSERT INTO par VALUES (1)`, `INSERT INTO cp VALUES (10, 1)`)
	rvCommit(t, s, `DELETE FROM cp WHERE id = 10`)
	rvExec(t, db, `DELETE FROM par WHERE id = 1`)
	rvWantRefused(t, s, db, `SELECT count(*) FROM cp1 WHERE NOT EXISTS (SELECT 1 FROM par WHERE par.id = cp1.pid)`)
}

// With a nondeterministic collation on the referenced column, PostgreSQL
// compares with that collation in both directions (ri_triggers.c:
// ri_GenerateQualCollation when pk_coll is nondeterministic): 'ABC'
// refers to 'abc', and deleting 'abc' is refused. Dangling matches the
// removed keys to the children with the child column's collation, so it
// misses 'ABC' and the undo leaves it referring to nothing.
func TestReviewRefsNondeterministicCollation(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
		`CREATE TABLE p (k text COLLATE ci PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, k text REFERENCES p)`)
	rvCommit(t, s, `INSERT INTO p VALUES ('abc')`)
	rvExec(t, db, `INSERT INTO c VALUES (1, 'ABC')`)
	// PostgreSQL itself would refuse the delete:
	if _, err := db.Exec(`DELETE FROM p`); err == nil || !strings.Contains(err.Error(), "violates foreign key") {
		t.Fatalf("PostgreSQL's own DELETE: %v", err)
	}
	rvWantRefused(t, s, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.k = c.k)`)
}

// MATCH FULL forbids a key that is partly NULL. project() drops any
// value with a NULL, so a row undo puts back with (7, NULL) is not
// checked: here the key was added after the row was deleted, and the
// undo restores a row PostgreSQL would never accept.
func TestReviewRefsMatchFullPartialNull(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (a int, b int, PRIMARY KEY (a, b))`,
		`CREATE TABLE c (id int PRIMARY KEY, a int, b int)`,
		`INSERT INTO c VALUES (1, 7, NULL)`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 1`)
	rvExec(t, db, `ALTER TABLE c ADD CONSTRAINT c_full FOREIGN KEY (a, b) REFERENCES p MATCH FULL`)
	rvWantRefused(t, s, db, `SELECT count(*) FROM c WHERE (a IS NULL) <> (b IS NULL)`)
	if _, err := db.Exec(`INSERT INTO c VALUES (2, 7, NULL)`); err == nil {
		t.Errorf("PostgreSQL accepted the same row")
	} else {
		t.Logf("PostgreSQL refuses the same row: %v", err)
	}
}

// The EXCLUSIVE lock covers only referenced tables the undo writes. When
// the undo writes a child row, its parent's table is not locked and the
// check reads it in the undo's REPEATABLE READ snapshot: a parent deleted
// by another session after that snapshot still looks present (that
// session's NO ACTION trigger does not see the undo's uncommitted row),
// and the undo commits a row referring to nothing. An ENABLE ALWAYS
// trigger waiting on an advisory lock holds the undo after its snapshot.
func TestReviewRefsConcurrentParentDelete(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO c VALUES (10, 1)`,
		`CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END $$`,
		`CREATE TRIGGER pause AFTER INSERT ON c FOR EACH ROW EXECUTE FUNCTION pause()`,
		`ALTER TABLE c ENABLE ALWAYS TRIGGER pause`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 10`)

	ctx := context.Background()
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		rep *engine.UndoReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := s.Undo(ctx, engine.UndoOptions{})
		done <- result{rep, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undo never reached the trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Another session deletes the parent while the undo holds its snapshot.
	rvExec(t, db, `DELETE FROM p WHERE id = 1`)
	if _, err := hold.ExecContext(ctx, `SELECT pg_advisory_unlock(4242)`); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err == nil {
		t.Errorf("the undo committed (%d rows)", r.rep.Rows)
	} else {
		t.Logf("undo: %v", r.err)
	}
	if n := rvInt(t, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)`); n != 0 {
		t.Errorf("after the undo %d row(s) of c refer to a row of p that does not exist", n)
	}
}

// rvRole creates a role (dropped after the test's database).
func rvRole(t *testing.T) string {
	t.Helper()
	db, _ := server(t)
	var b [4]byte
	rand.Read(b[:])
	role := "lb_rev_" + hex.EncodeToString(b[:])
	if _, err := db.Exec("CREATE ROLE " + role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP ROLE IF EXISTS " + role) })
	return role
}

// Without the right to set session_replication_role, undo runs with the
// foreign-key triggers on (they run as the tables' owner and enforce
// everything), yet the reference check still runs, as the user: a user
// who may delete from p but not read c (PostgreSQL does not require
// that) gets "permission denied for table c", and the undo fails.
func TestReviewRefsCheckWithoutReplicaNeedsPrivileges(t *testing.T) {
	role := rvRole(t)
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON p TO `+role)
	rvCommit(t, s, `SET ROLE `+role)
	rvCommit(t, s, `INSERT INTO p VALUES (5)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("notes: %q", rep.Notes)
	if n := rvInt(t, db, `SELECT count(*) FROM p`); n != 0 {
		t.Errorf("p has %d rows after undo", n)
	}
}

// Same, with row-level security on the child: the user may read c
// (a permissive policy), but with row_security = off the check errors.
func TestReviewRefsCheckWithoutReplicaUnderRLS(t *testing.T) {
	role := rvRole(t)
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`ALTER TABLE c ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY everything ON c USING (true)`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON p, c TO `+role)
	rvCommit(t, s, `SET ROLE `+role)
	rvCommit(t, s, `INSERT INTO p VALUES (5)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("notes: %q", rep.Notes)
	if n := rvInt(t, db, `SELECT count(*) FROM p`); n != 0 {
		t.Errorf("p has %d rows after undo", n)
	}
}

// Two different deterministic collations on the key's columns (both not
// the default): PostgreSQL compares them fine (ri_GenerateQualCollation
// where it compares a column with a column), but parentHas compares p.k
// with c.k bare, and the removed-key query fails with "could not
// determine which collation to use for string comparison".
func TestReviewRefsCollationConflict(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (k text COLLATE "C" PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, k text COLLATE "POSIX" REFERENCES p)`)
	rvCommit(t, s, `INSERT INTO p VALUES ('abc')`)
	rvExec(t, db, `INSERT INTO c VALUES (1, 'abc')`)
	rvWantRefused(t, s, db, `SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.k = c.k COLLATE "C")`)
}

// A nullable foreign-key column added after the session (the usual way
// to add one): undo puts back rows without it (NULL: they refer to
// nothing), yet fkUses refuses because the journal's description of the
// table lacks the column.
func TestReviewRefsAddedForeignKeyColumn(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, v text)`,
		`INSERT INTO c VALUES (1, 'a')`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 1`)
	rvExec(t, db, `ALTER TABLE c ADD COLUMN pid int REFERENCES p`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("undo: %d rows", rep.Rows)
}

// Control: the same with a column added that no foreign key uses.
func TestReviewRefsAddedPlainColumnControl(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, v text)`,
		`INSERT INTO c VALUES (1, 'a')`)
	rvCommit(t, s, `DELETE FROM c WHERE id = 1`)
	rvExec(t, db, `ALTER TABLE c ADD COLUMN pid int`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	t.Logf("undo: %d rows", rep.Rows)
}

// The EXCLUSIVE lock on a referenced table lasts the whole undo and
// conflicts with every foreign-key check against that table, also for
// parent rows the undo never touches. A writer that holds a row the undo
// must fetch and then adds a child of an unrelated parent row now
// deadlocks with the undo (without the table lock its FOR KEY SHARE of
// parent row 1 would not wait, and the undo would report a conflict).
func TestReviewRefsLockDeadlock(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p, note text)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO c VALUES (1, 1, 'x')`)
	rvCommit(t, s, `UPDATE c SET note = 'mine' WHERE id = 1; INSERT INTO p VALUES (9)`)
	ctx := context.Background()
	y, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Rollback()
	if _, err := y.Exec(`UPDATE c SET note = 'y' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Undo(ctx, engine.UndoOptions{}); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undo never waited for the row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, yerr := y.Exec(`INSERT INTO c VALUES (2, 1, 'y')`) // refers to parent 1, which the undo does not touch
	if yerr == nil {
		y.Commit()
	} else {
		y.Rollback()
	}
	uerr := <-done
	t.Logf("writer: %v; undo: %v", yerr, uerr)
	for _, e := range []error{yerr, uerr} {
		if e != nil && strings.Contains(e.Error(), "deadlock") {
			t.Errorf("deadlock: %v", e)
		}
	}
}
